"""Evaluation: every quality and speed number of the project comes from here.

physics.py       foot skating, floor / inter-person / scene penetration, jerk (joints only)
interaction.py   generated vs real reactor, relative to the partner (position, facing, distance, contact)
evaluator.py     the text-motion evaluator (motion encoder + text projection), shipped in assets/evaluator
train_evaluator.py  contrastive training of the evaluator on the train split
metrics.py       FID, R-precision (fixed batch 32), MM-Dist, diversity, multimodality, mean ± 95 % CI
benchmark.py     the sections of docs/results.md; report.py renders them; `python -m inference_backend.eval`
"""
