"""Entry points: the callable envelope, event and web wrappers, runtime options and the request
guards. Function files call these; they call services."""
