"""`hotgo helper`: the Go helper's sources as the installed hotgo carries them, written into a user's
module with a header naming their origin, and the check `hotgo run` makes for a copy that differs."""
