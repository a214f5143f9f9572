"""`hotgo init`: the commented hotgo.toml it writes, and the settings table of docs/reference.md."""
