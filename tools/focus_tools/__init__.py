"""Tools around the deployed package (never deployed): the API contract generator, the
migration runner and its migrations, the erasure scan, the index checker and the IAM analysis."""
