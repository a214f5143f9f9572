module github.com/hotgo-dev/hotgo/front

go 1.22
