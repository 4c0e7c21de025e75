"""Privacy use cases: the personal-data registry, erasure and export."""
