"""Benchmarks: `python -m inference_backend.bench prior` (per-segment / per-frame cost of the prior)."""
