"""validation functions."""

__all__ = []
