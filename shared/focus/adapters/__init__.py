"""Adapters: everything that talks to Google (Firestore store, paths, clients, Pub/Sub, logs,
traces, leases). They may import the domain, never services or entry points."""
