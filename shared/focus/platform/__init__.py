"""The thin platform layer every functions codebase shares: clients, logging, errors, envelopes,
Firestore repositories. Heavy Google clients are imported lazily inside the functions that need
them so a codebase pays only for what its functions use at cold start."""
