"""hotgo: watch, rebuild and hand off a Go service on one shared port."""

__version__ = "0.1.0"
