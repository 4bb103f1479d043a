"""Curation stages, one module each. `registry.STAGES` lists them in default order."""
