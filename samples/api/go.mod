module example.com/api

go 1.22

require github.com/hotgo-dev/hotgo/go v0.0.0

replace github.com/hotgo-dev/hotgo/go => ../../go
