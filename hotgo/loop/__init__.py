"""The one deciding loop: the supervisor, the events it reacts to, crash policy, the reload report."""
