"""The product's pure domain. Nothing here imports Firebase, Google Cloud or does I/O."""
