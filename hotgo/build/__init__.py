"""`go build` of one generation: the build process, its progress, finding the Go module and package."""
