"""Honest outcomes: definitions, estimands, factors, practitioners, recurrence, safety.

Everything here is a pure function over tables except ``extract``, the one place that turns
SQL into tables.
"""
