"""Prolo Outcomes: registry, patient-reported follow-up and honest statistics for prolotherapy."""

__version__ = "0.1.0"
