"""Exchange with other systems: the bulk import path shared by real data and synthetic registries."""
