"""Privacy by design: the personal-data registry (pure) and the processing it drives."""
