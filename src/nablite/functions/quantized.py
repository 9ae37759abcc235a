"""Quantized layers: binary-connect / binary-weight affine and convolution, INQ, min-max quantization."""

__all__ = []
