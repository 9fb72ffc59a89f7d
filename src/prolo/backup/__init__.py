"""Backup and restore of a whole registry, each verified table by table before success."""
