"""indexing functions."""

__all__ = []
