"""Settings package: base (everything), local (demo/dev), test, production (hardening only)."""
