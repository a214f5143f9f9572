module example.com/proxyapp

go 1.22
