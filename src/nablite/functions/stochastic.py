"""stochastic functions."""

__all__ = []
