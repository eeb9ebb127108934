"""Evaluation: protocols (pair lists, folds), metrics (ROC, TAR@FAR, EER) and runners."""
