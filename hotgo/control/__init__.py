"""`hotgo status|reload|rollback|stop`: the control socket and the status text."""
