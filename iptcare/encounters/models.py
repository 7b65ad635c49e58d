"""Models of the encounters app."""
