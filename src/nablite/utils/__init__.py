"""Utilities: data iterators and sources, learning-rate schedulers, image I/O,
plotting helpers."""
