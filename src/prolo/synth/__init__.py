"""Synthetic registries with known truth, written through the same import path as real data."""
