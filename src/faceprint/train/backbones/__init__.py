"""Trainable embedding networks (PyTorch)."""
