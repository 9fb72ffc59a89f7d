"""Public pages: no account needed."""
