"""Request guards every callable passes: client gate, rate limits, idempotency."""
