"""Numerical kernels the layers share (plain functions on NumPy arrays)."""
