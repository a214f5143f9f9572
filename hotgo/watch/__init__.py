"""Seeing file changes: observers, filters, settle, content fingerprints, the artifact poller."""
