"""Predictor: serves deployed model versions over the Open Inference Protocol v2."""
