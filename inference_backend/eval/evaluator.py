"""The text-motion evaluator: a motion encoder and a text projection in one embedding space.

As Guo et al. (2022, "Generating Diverse and Natural 3D Human Motions from Text"), FID,
R-precision, MM-Dist, diversity and multimodality are measured in the embedding space of an
encoder trained to match motions with their descriptions. Ours differs where our data asks:

* Input: a fixed window of `WINDOW` = 60 frames (2 s at 30 fps) of the 22 body joints only, so
  any method's output (joints) can be measured, whatever its rotation representation. The
  window is canonicalised to its first frame (pelvis xy at the origin, hip axis along +x, z up:
  the DART primitive frame), and each frame is described by its joint positions (66), velocities
  (66, m/s) and accelerations (66, m/s², central differences), normalised by train-split
  statistics that ship with the weights. Accelerations make jitter stand out (3 cm of noise is
  ~60 m/s², far outside captured motion), so FID sees it.
* Motion encoder: two strided temporal convolutions (60 -> 15 steps) and a bidirectional GRU;
  the two final hidden states -> a linear map -> a unit vector of `EMBED_DIM`.
* Text side: the frozen all-MiniLM-L6-v2 sentence embedding (384-d, `models.text_encoder`) and a
  small trained MLP -> a unit vector of `EMBED_DIM`.
* Trained on the train split only (`train_evaluator.py`): a symmetric InfoNCE loss between
  motions and texts, a reconstruction loss (TMR-style: a training-only decoder rebuilds the
  window from its embedding) so the embedding keeps the motion's dynamics and not just its text
  class, and corrupted windows (jitter, held poses) as hard negatives tied to an "implausible"
  anchor — which is what lets FID notice broken motion. Caveat for readers of the tables: the
  noise and frozen sanity rows are corruptions of the kinds seen in training; the sliding row
  is not.

Weights ship as `assets/evaluator/evaluator.safetensors` + `config.json` (no pickle).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..body import BODY_JOINT_NAMES, NUM_BODY_JOINTS
from ..paths import ASSETS_DIR

WINDOW = 60
FPS = 30.0
EMBED_DIM = 64
TEXT_DIM = 384
FEATURE_DIM = 3 * 3 * NUM_BODY_JOINTS  # positions + velocities + accelerations = 198
EVALUATOR_DIR = ASSETS_DIR / "evaluator"
FORMAT = "remogen-evaluator-1"

_LEFT_HIP = BODY_JOINT_NAMES.index("left_hip")
_RIGHT_HIP = BODY_JOINT_NAMES.index("right_hip")


def window_features(joints: torch.Tensor, fps: float = FPS) -> torch.Tensor:
    """(B, T, 22, 3) world joints -> (B, T, 198) canonicalised positions (m), velocities (m/s) and
    accelerations (m/s²)."""
    if joints.dim() != 4 or joints.shape[-2:] != (NUM_BODY_JOINTS, 3):
        raise ValueError(f"joints must have shape (B, T, 22, 3), got {tuple(joints.shape)}")
    first = joints[:, 0]                                          # (B, 22, 3)
    across = first[:, _LEFT_HIP] - first[:, _RIGHT_HIP]
    x = torch.stack([across[:, 0], across[:, 1]], -1)
    norm = torch.linalg.norm(x, dim=-1, keepdim=True)
    x = torch.where(norm > 1e-6, x / norm.clamp_min(1e-6), torch.tensor([1.0, 0.0], dtype=x.dtype))
    cos, sin = x[:, 0], x[:, 1]
    # World -> canonical: rotate by -yaw so the hip axis lands on +x.
    rot = torch.zeros(joints.shape[0], 3, 3, dtype=joints.dtype)
    rot[:, 0, 0], rot[:, 0, 1] = cos, sin
    rot[:, 1, 0], rot[:, 1, 1] = -sin, cos
    rot[:, 2, 2] = 1.0
    origin = torch.zeros(joints.shape[0], 3, dtype=joints.dtype)
    origin[:, :2] = first[:, 0, :2]
    local = (joints - origin[:, None, None]) @ rot.transpose(-1, -2)[:, None]  # (B, T, 22, 3)
    # Central differences (one-sided at the ends): no spikes at the window's edges.
    vel = torch.gradient(local, dim=1)[0] * fps
    acc = torch.gradient(vel, dim=1)[0] * fps
    b, t = joints.shape[:2]
    return torch.cat([local.reshape(b, t, -1), vel.reshape(b, t, -1), acc.reshape(b, t, -1)], -1)


class MotionEncoder(nn.Module):
    """(B, T, 198) normalised window features -> (B, EMBED_DIM) unit embeddings."""

    def __init__(self, feature_dim: int = FEATURE_DIM, hidden: int = 128, embed_dim: int = EMBED_DIM):
        super().__init__()
        self.conv = nn.Sequential(                                  # (B, C, T) -> (B, hidden, T/4)
            nn.Conv1d(feature_dim, hidden, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, hidden, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        )
        self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.LayerNorm(2 * hidden), nn.Linear(2 * hidden, embed_dim))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        h = self.conv(feats.transpose(1, 2)).transpose(1, 2)       # (B, T/4, hidden)
        _, last = self.gru(h)                                       # (2, B, hidden)
        z = self.out(torch.cat([last[0], last[1]], -1))             # (B, embed_dim)
        return nn.functional.normalize(z, dim=-1)


class TextProjection(nn.Module):
    """(B, 384) frozen sentence embeddings -> (B, EMBED_DIM) unit embeddings."""

    def __init__(self, text_dim: int = TEXT_DIM, hidden: int = 256, embed_dim: int = EMBED_DIM):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(text_dim, hidden), nn.GELU(), nn.Linear(hidden, embed_dim))

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.net(text), dim=-1)


class Evaluator(nn.Module):
    """Both encoders, the feature normaliser (train-split mean/std) and the InfoNCE temperature."""

    def __init__(self, config: dict | None = None):
        super().__init__()
        self.config = {"format": FORMAT, "window": WINDOW, "fps": FPS, "embed_dim": EMBED_DIM,
                       "hidden": 128, "text_hidden": 256, "text_encoder": "all-MiniLM-L6-v2", **(config or {})}
        c = self.config
        self.motion = MotionEncoder(FEATURE_DIM, c["hidden"], c["embed_dim"])
        self.text = TextProjection(TEXT_DIM, c["text_hidden"], c["embed_dim"])
        self.register_buffer("feat_mean", torch.zeros(FEATURE_DIM))
        self.register_buffer("feat_std", torch.ones(FEATURE_DIM))
        self.log_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))

    @property
    def window(self) -> int:
        return int(self.config["window"])

    def features(self, joints: torch.Tensor) -> torch.Tensor:
        return (window_features(joints, self.config["fps"]) - self.feat_mean) / self.feat_std

    def forward_motion(self, joints: torch.Tensor) -> torch.Tensor:
        """(B, window, 22, 3) world joints -> (B, D), differentiable (for training)."""
        if joints.shape[1] != self.window:
            raise ValueError(f"the evaluator takes windows of {self.window} frames, got {joints.shape[1]}")
        return self.motion(self.features(joints))

    @torch.no_grad()
    def embed_motion(self, joints, batch: int = 256) -> np.ndarray:
        """(N, window, 22, 3) world joints (numpy or torch) -> (N, D) float64 embeddings."""
        self.eval()
        joints = torch.as_tensor(np.asarray(joints), dtype=torch.float32)
        if joints.dim() != 4 or joints.shape[2:] != (NUM_BODY_JOINTS, 3):
            raise ValueError(f"motion windows must have shape (N, {self.window}, 22, 3), got {tuple(joints.shape)}")
        if not torch.isfinite(joints).all():
            raise ValueError("motion windows have non-finite values")
        out = [self.forward_motion(joints[i:i + batch]) for i in range(0, len(joints), batch)]
        return torch.cat(out).double().numpy() if out else np.zeros((0, self.config["embed_dim"]))

    @torch.no_grad()
    def embed_text(self, sentence_embeddings) -> np.ndarray:
        """(N, 384) frozen sentence embeddings -> (N, D) float64 embeddings."""
        self.eval()
        return self.text(torch.as_tensor(np.asarray(sentence_embeddings), dtype=torch.float32)).double().numpy()

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Sentences -> (N, D), through the frozen sentence encoder (loaded once per process)."""
        from ..models.text_encoder import embed_texts

        return self.embed_text(embed_texts(list(texts)))

    # ------------------------------------------------------------------ files
    def save(self, folder: str | Path, extra: dict | None = None) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(tensors, str(folder / "evaluator.safetensors"))
        (folder / "config.json").write_text(json.dumps({**self.config, **(extra or {})}, indent=1))

    @classmethod
    def load(cls, folder: str | Path = EVALUATOR_DIR) -> "Evaluator":
        folder = Path(folder)
        weights, config = folder / "evaluator.safetensors", folder / "config.json"
        if not weights.is_file() or not config.is_file():
            raise FileNotFoundError(f"{folder}: no evaluator here (needs evaluator.safetensors and config.json); "
                                    "train one with `python -m inference_backend.eval.train_evaluator`")
        cfg = json.loads(config.read_text())
        if cfg.get("format") != FORMAT:
            raise ValueError(f"{config}: format {cfg.get('format')!r}, expected {FORMAT!r}")
        model = cls(cfg)
        model.load_state_dict(load_file(str(weights)))
        model.eval()
        return model


def motion_windows(joints: np.ndarray, window: int = WINDOW, stride: int = WINDOW) -> np.ndarray:
    """(T, 22, 3) -> (N, window, 22, 3) windows every `stride` frames (none if T < window)."""
    joints = np.asarray(joints)
    starts = range(0, joints.shape[0] - window + 1, stride)
    return np.stack([joints[s:s + window] for s in starts]) if len(starts) else np.zeros((0, window, *joints.shape[1:]))
