"""layers functions."""

__all__ = []
