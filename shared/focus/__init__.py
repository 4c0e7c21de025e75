"""The Focus backend's shared package, in four layers (docs/architecture.md):

- ``focus.domain``: the pure product rules (pydantic models and functions; no I/O, nothing of
  Firebase or Google), and ``focus.contracts``: the callable API's request and response models.
- ``focus.adapters``: Firestore store and paths, clients, Pub/Sub, logs, traces, leases.
- ``focus.services``: the use cases, one unit of work each.
- ``focus.entrypoints``: the callable envelope, event and web wrappers, runtime, request guards.

A layer imports only the layers listed before it; ``scripts/lint`` enforces this.
"""
