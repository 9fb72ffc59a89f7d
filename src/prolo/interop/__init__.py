"""Exchange with other systems: one bulk import path for real data and synthetic registries."""
