"""Probes: measure a trained network like a brain (tuning per stage, similarity, grid scores, gradients)."""
