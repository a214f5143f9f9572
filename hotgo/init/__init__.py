"""`hotgo init`: the commented hotgo.toml it writes, and the README's settings table."""
