"""Questionnaire definitions (data) and their exact scoring (pure functions)."""
