"""One generation's life at the shared port: the process, its sockets, readiness, drain, notify."""
