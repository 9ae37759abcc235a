"""recurrent functions."""

__all__ = []
