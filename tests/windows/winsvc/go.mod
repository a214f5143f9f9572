module example.com/winsvc

go 1.22
