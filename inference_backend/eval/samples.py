"""Motions of one split as world joints with their texts, and fixed-length windows of them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..body import MIRROR_INDEX, NUM_BODY_JOINTS, RestSkeleton, canonical_rest
from .evaluator import WINDOW, motion_windows


@dataclass
class Take:
    take_id: str
    text: str
    joints: np.ndarray  # (T, 22, 3) float32 world joints, Z up, metres
    fps: float
    motion: object = None  # the source `Motion` (transl, rotations), for generation starts


def motion_to_take(motion, rest: RestSkeleton) -> Take:
    return Take(motion.take_id, motion.text, motion.joints(rest), float(motion.fps), motion)


def load_takes(cache: str | Path, split: str, rest: RestSkeleton | None = None) -> list[Take]:
    """Every take of a split with a text, as joints on the canonical rest skeleton."""
    from ..data.dataset import load_motions

    rest = rest or canonical_rest()
    takes = [motion_to_take(m, rest) for m in load_motions(cache, split)]
    return [t for t in takes if t.text.strip()]


@dataclass
class Windows:
    joints: np.ndarray  # (N, WINDOW, 22, 3)
    texts: list[str]
    take_ids: list[str]
    origins: list[tuple[int, int]]  # (take index, first frame) of each window


def take_windows(takes: list[Take], window: int = WINDOW, stride: int = WINDOW // 2) -> Windows:
    """Windows every `stride` frames of every take long enough (deterministic order)."""
    joints, texts, ids, origins = [], [], [], []
    for k, t in enumerate(takes):
        w = motion_windows(t.joints, window, stride)
        joints.append(w)
        texts += [t.text] * len(w)
        ids += [t.take_id] * len(w)
        origins += [(k, s * stride) for s in range(len(w))]
    stacked = np.concatenate(joints) if joints else np.zeros((0, window, NUM_BODY_JOINTS, 3), np.float32)
    return Windows(stacked.astype(np.float32), texts, ids, origins)


def mirror(joints: np.ndarray) -> np.ndarray:
    """Left-right mirror of world joints (..., 22, 3): x -> -x and left/right joints swapped."""
    out = joints[..., MIRROR_INDEX[:NUM_BODY_JOINTS], :].copy()
    out[..., 0] *= -1
    return out
