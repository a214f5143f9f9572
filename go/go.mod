module github.com/hotgo-dev/hotgo/go

go 1.22
