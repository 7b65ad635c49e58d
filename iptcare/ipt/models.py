"""Models of the ipt app."""
