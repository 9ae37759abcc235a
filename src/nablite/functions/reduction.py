"""reduction functions."""

__all__ = []
