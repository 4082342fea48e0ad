"""The trainer: training, cross-validation and tuning jobs pulled from aimass.jobs.train/tune."""
