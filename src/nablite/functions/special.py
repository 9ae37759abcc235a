"""special functions."""

__all__ = []
