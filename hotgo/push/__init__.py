"""Pushing the service's own config files to the running process: check, push, outcome."""
