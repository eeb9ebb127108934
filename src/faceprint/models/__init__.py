"""Model code: weight files, detectors, landmark predictors and embedding networks."""
