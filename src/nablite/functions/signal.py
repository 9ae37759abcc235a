"""Signal processing: complex FFT / inverse FFT and the short-time Fourier transform pair."""

__all__ = []
