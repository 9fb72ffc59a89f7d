"""The clinical record of prolotherapy care."""
