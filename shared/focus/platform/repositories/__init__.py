"""Firestore adapters, one module per aggregate. Paths live here and nowhere else."""
