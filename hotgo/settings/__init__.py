"""What the user set: every setting declared once, hotgo.toml, and the parsers they need."""
