"""logical functions."""

__all__ = []
