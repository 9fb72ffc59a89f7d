"""Outcome reports: JSON for scripts and the API, self-contained HTML and PDF with figures."""
