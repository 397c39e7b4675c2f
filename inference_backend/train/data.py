"""Training data for the prior: takes packed into flat tensors, windows sampled on the fly.

A `TakeBank` concatenates every take's poses (transl, local rotations) so a batch of windows of
`length` consecutive poses is one gather; the features (FK, canonicalisation) are computed per
batch in torch, which is cheaper than storing every overlapping primitive. Sampling draws from
a `torch.Generator` that the trainer checkpoints, so resumed runs draw the same batches.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..body import MIRROR_INDEX, NUM_BODY_JOINTS
from ..data.motion import Motion
from ..models.text_encoder import embed_texts_cached


def load_split(data: str, cache: str | Path, split: str) -> list[Motion]:
    """Motions of a split. `data` is "cache" (the retargeted cache, the real thing) or
    "synthetic:<count>" (our FK on smooth random poses; tests and development only)."""
    if data.startswith("synthetic"):
        from .synthetic import synthetic_motions

        count = int(data.split(":")[1]) if ":" in data else 16
        offset = {"train": 0, "val": 1000, "test": 2000}[split]
        return synthetic_motions(count, seconds=4.0, seed=offset)
    if data != "cache":
        raise ValueError(f"--data must be 'cache' or 'synthetic[:N]', got {data!r}")
    try:
        from ..data.dataset import load_motions
    except ImportError as exc:
        raise RuntimeError("the motion cache reader (inference_backend.data.dataset) is not available yet; "
                           "use --data synthetic for a dry run") from exc
    if not (Path(cache) / "index.json").is_file():
        raise FileNotFoundError(f"no motion cache at {cache} (missing index.json); "
                                "build it with `python -m inference_backend.data build`")
    return load_motions(cache, split)


def _swap_left_right(text: str) -> str:
    return re.sub(r"\b(left|right)\b", lambda m: "right" if m.group(1) == "left" else "left", text)


def _mirror_motion(m: Motion) -> Motion:
    """Reflect x (the body's left/right axis) and swap left/right joints and words."""
    flip = np.diag([-1.0, 1.0, 1.0]).astype(np.float32)
    transl = m.transl * np.array([-1.0, 1.0, 1.0], np.float32)
    rot = flip @ m.rotations[:, MIRROR_INDEX[:NUM_BODY_JOINTS]] @ flip
    return Motion(m.take_id + "_mirror", m.fps, transl, rot.astype(np.float32), _swap_left_right(m.text),
                  m.skeleton, {**m.meta, "mirrored": True})


def mirror_motions(motions: list[Motion]) -> list[Motion]:
    """Left/right mirrored copies: the data package's augmentation when it has one, else ours."""
    try:
        from ..data import augment
        fn = getattr(augment, "mirror_motion", None) or getattr(augment, "mirror")
    except (ImportError, AttributeError):
        fn = _mirror_motion
    return [fn(m) for m in motions]


@dataclass
class TakeBank:
    transl: torch.Tensor      # (N, 3) all takes' poses, concatenated
    rotations: torch.Tensor   # (N, 22, 3, 3)
    text_index: torch.Tensor  # (N,) per pose: index into `texts`
    starts: torch.Tensor      # (W,) valid window starts for `length`
    texts: list[str]
    text_embeddings: torch.Tensor  # (len(texts), 384)
    length: int

    @classmethod
    def build(cls, motions: list[Motion], length: int, cache_dir: str | Path, stride: int = 1) -> "TakeBank":
        motions = [m for m in motions if m.num_frames >= length]
        if not motions:
            raise ValueError(f"no take has the {length} frames a training window needs")
        texts = sorted({m.text for m in motions})
        tindex = {t: i for i, t in enumerate(texts)}
        transl, rot, tid, starts, offset = [], [], [], [], 0
        for m in motions:
            n = m.num_frames
            transl.append(torch.as_tensor(m.transl, dtype=torch.float32))
            rot.append(torch.as_tensor(m.rotations, dtype=torch.float32))
            tid.append(torch.full((n,), tindex[m.text], dtype=torch.long))
            starts.append(torch.arange(offset, offset + n - length + 1, stride))
            offset += n
        emb = torch.as_tensor(embed_texts_cached(texts, cache_dir))
        return cls(torch.cat(transl), torch.cat(rot), torch.cat(tid), torch.cat(starts), texts, emb, length)

    def __len__(self) -> int:
        return int(self.starts.numel())

    def windows(self, index: torch.Tensor):
        """Windows at positions `index` (B,) of `starts`: transl (B, L, 3), rotations
        (B, L, 22, 3, 3), text embeddings (B, 384), text indices (B,)."""
        s = self.starts[index]
        idx = s[:, None] + torch.arange(self.length)[None]
        tix = self.text_index[s]
        return self.transl[idx], self.rotations[idx], self.text_embeddings[tix], tix

    def sample(self, batch: int, generator: torch.Generator):
        return self.windows(torch.randint(len(self), (batch,), generator=generator))
