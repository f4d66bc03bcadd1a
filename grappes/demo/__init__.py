"""Synthetic data for demos, benchmarks and tests (never imported by the running portal)."""
