"""Demo data (``seed_demo``): the walkable demo and the national benchmark dataset."""
