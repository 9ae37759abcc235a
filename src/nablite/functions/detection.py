"""Detection and miscellany: unique, 2-D NMS, max-pooling backward, patch correlation, VAT noise."""

__all__ = []
