"""Spatial transforms: affine sampling grids, warping by a grid or a flow field, RoIAlign."""

__all__ = []
