"""DART-style per-frame motion features, motion primitives and their canonical frames.

A *primitive* is H=2 history frames followed by F=8 future frames at 30 fps. Each primitive is
expressed in the canonical frame of its first history frame: pelvis xy at the origin (height
kept, the floor stays at z=0), the hip axis (right hip -> left hip) along +x, z up. In that
frame the body faces -y, as the rest pose does.

Per-frame feature layout (276 numbers, `FEATURE_SLICES`):

    transl                  0:3     pelvis position
    poses_6d                3:135   6D local rotation of the 22 body joints (root = global orient)
    transl_delta          135:138   transl[t] - transl[t-1]
    global_orient_delta   138:144   6D of R_root[t] @ R_root[t-1]^T
    joints                144:210   22 joint positions (FK on the rest skeleton)
    joints_delta          210:276   joints[t] - joints[t-1]

Deltas look *backwards* (frame t minus frame t-1), so computing features for N frames takes
N+1 poses: the extra leading pose is only used for the deltas of the first frame. At rollout
time that pose is simply the frame before the history, which the model generated itself.

Everything here works on torch tensors, batched over leading dimensions; `motion_to_features`
and `features_to_motion` are numpy conveniences for whole `Motion`s.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..body import JOINT_INDEX, NUM_BODY_JOINTS, RestSkeleton, forward_kinematics
from ..body.rotations import matrix_to_6d, sixd_to_matrix

HISTORY = 2          # H: history frames per primitive
FUTURE = 8           # F: future frames per primitive
PRIMITIVE = HISTORY + FUTURE
FPS = 30
J = NUM_BODY_JOINTS  # 22

FEATURE_SLICES = {
    "transl": slice(0, 3),
    "poses_6d": slice(3, 3 + 6 * J),
    "transl_delta": slice(135, 138),
    "global_orient_delta": slice(138, 144),
    "joints": slice(144, 144 + 3 * J),
    "joints_delta": slice(210, 210 + 3 * J),
}
FEATURE_DIM = 276

_LEFT_HIP, _RIGHT_HIP = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]


def _t(x, like=None, dtype=torch.float32):
    if isinstance(x, torch.Tensor):
        return x
    device = like.device if isinstance(like, torch.Tensor) else None
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def body_offsets(rest: RestSkeleton, like: torch.Tensor | None = None) -> torch.Tensor:
    """(22, 3) rest offsets of the body joints as a tensor on `like`'s device/dtype."""
    off = torch.as_tensor(rest.body_offsets, dtype=torch.float32)
    if like is not None:
        off = off.to(device=like.device, dtype=like.dtype)
    return off


# ----------------------------------------------------------------------------- canonical frame
@dataclass
class Frame:
    """A z-up rigid frame: world = rotation @ local + origin. Batched over leading dims."""

    rotation: torch.Tensor  # (..., 3, 3) rotation about z
    origin: torch.Tensor    # (..., 3) (x, y, 0)

    def _apply(self, rot: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        batch = rot.shape[:-2]
        flat = p.reshape(*batch, -1, 3)
        return (flat @ rot.transpose(-1, -2)).reshape(p.shape)

    def points_to_world(self, p: torch.Tensor) -> torch.Tensor:
        """p (..., *, 3) local -> world; the frame's batch dims must lead p's."""
        origin = self.origin.reshape(*self.origin.shape[:-1], *([1] * (p.dim() - self.origin.dim())), 3)
        return self._apply(self.rotation, p) + origin

    def points_to_local(self, p: torch.Tensor) -> torch.Tensor:
        origin = self.origin.reshape(*self.origin.shape[:-1], *([1] * (p.dim() - self.origin.dim())), 3)
        return self._apply(self.rotation.transpose(-1, -2), p - origin)

    def vectors_to_world(self, v: torch.Tensor) -> torch.Tensor:
        return self._apply(self.rotation, v)

    def compose(self, inner: "Frame") -> "Frame":
        """The frame `inner` (given in this frame's coordinates) expressed in world."""
        rot = self.rotation @ inner.rotation
        origin = (self.rotation @ inner.origin[..., None])[..., 0] + self.origin
        return Frame(rot, origin)


def canonical_frame(transl: torch.Tensor, root_rotation: torch.Tensor, offsets: torch.Tensor) -> Frame:
    """The canonical frame of one pose: pelvis xy at the origin, hips along +x, z up.

    transl (..., 3), root_rotation (..., 3, 3), offsets (22, 3). The hips are children of the
    pelvis, so their positions need only the root rotation (no full FK).
    """
    hip_axis = root_rotation @ (offsets[_LEFT_HIP] - offsets[_RIGHT_HIP])[:, None]  # (..., 3, 1)
    x = hip_axis[..., 0].clone()
    x[..., 2] = 0.0
    # A body lying exactly along z has no horizontal hip axis; fall back to +x then.
    norm = torch.linalg.norm(x, dim=-1, keepdim=True)
    fallback = torch.zeros_like(x)
    fallback[..., 0] = 1.0
    x = torch.where(norm > 1e-6, x / norm.clamp_min(1e-6), fallback)
    z = torch.zeros_like(x)
    z[..., 2] = 1.0
    y = torch.linalg.cross(z, x, dim=-1)
    rotation = torch.stack([x, y, z], dim=-1)
    origin = transl.clone()
    origin[..., 2] = 0.0
    return Frame(rotation, origin)


def to_local(frame: Frame, transl: torch.Tensor, rotations: torch.Tensor):
    """Express a pose sequence (..., T, 3), (..., T, 22, 3, 3) in `frame` (batch dims lead)."""
    transl = frame.points_to_local(transl)
    root = frame.rotation.transpose(-1, -2)[..., None, :, :] @ rotations[..., 0, :, :]
    return transl, torch.cat([root[..., None, :, :], rotations[..., 1:, :, :]], dim=-3)


def to_world(frame: Frame, transl: torch.Tensor, rotations: torch.Tensor):
    """Inverse of `to_local`."""
    transl = frame.points_to_world(transl)
    root = frame.rotation[..., None, :, :] @ rotations[..., 0, :, :]
    return transl, torch.cat([root[..., None, :, :], rotations[..., 1:, :, :]], dim=-3)


# ----------------------------------------------------------------------------- features
def pose_features(transl: torch.Tensor, rotations: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Features of N frames from N+1 poses (the first pose only feeds the deltas).

    transl (..., N+1, 3), rotations (..., N+1, 22, 3, 3) -> (..., N, 276)
    """
    joints = forward_kinematics(rotations, offsets, transl)[1]  # (..., N+1, 22, 3)
    root = rotations[..., 0, :, :]
    orient_delta = root[..., 1:, :, :] @ root[..., :-1, :, :].transpose(-1, -2)
    lead = transl.shape[:-2]
    n = transl.shape[-2] - 1
    return torch.cat([
        transl[..., 1:, :],
        matrix_to_6d(rotations[..., 1:, :, :, :]).reshape(*lead, n, 6 * J),
        transl[..., 1:, :] - transl[..., :-1, :],
        matrix_to_6d(orient_delta),
        joints[..., 1:, :, :].reshape(*lead, n, 3 * J),
        (joints[..., 1:, :, :] - joints[..., :-1, :, :]).reshape(*lead, n, 3 * J),
    ], dim=-1)


def split_features(feats: torch.Tensor) -> dict[str, torch.Tensor]:
    """Named views of a (..., 276) feature tensor; joints come back as (..., 22, 3)."""
    out = {name: feats[..., s] for name, s in FEATURE_SLICES.items()}
    lead = feats.shape[:-1]
    out["poses_6d"] = out["poses_6d"].reshape(*lead, J, 6)
    out["joints"] = out["joints"].reshape(*lead, J, 3)
    out["joints_delta"] = out["joints_delta"].reshape(*lead, J, 3)
    return out


def features_to_pose(feats: torch.Tensor):
    """(..., 276) -> transl (..., 3), rotations (..., 22, 3, 3), joints (..., 22, 3)."""
    parts = split_features(feats)
    return parts["transl"], sixd_to_matrix(parts["poses_6d"]), parts["joints"]


def primitive_features(transl: torch.Tensor, rotations: torch.Tensor, offsets: torch.Tensor):
    """Canonicalised features of a window of world poses.

    transl (..., 1+N, 3), rotations (..., 1+N, 22, 3, 3): one leading pose (for deltas) then
    N frames (H history, optionally followed by F future). The canonical frame is that of the
    first history frame (index 1). Returns (features (..., N, 276), Frame in world).
    """
    frame = canonical_frame(transl[..., 1, :], rotations[..., 1, 0, :, :], offsets)
    local_t, local_r = to_local(frame, transl, rotations)
    return pose_features(local_t, local_r, offsets), frame


# ----------------------------------------------------------------------------- normaliser
class Normalizer(torch.nn.Module):
    """Per-dimension mean/std of the features, computed on the train split and shipped."""

    def __init__(self, mean: torch.Tensor | None = None, std: torch.Tensor | None = None, dim: int = FEATURE_DIM):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim) if mean is None else mean.float().clone())
        self.register_buffer("std", torch.ones(dim) if std is None else std.float().clone())

    @classmethod
    def fit(cls, feats: torch.Tensor, min_std: float = 1e-2) -> "Normalizer":
        flat = feats.reshape(-1, feats.shape[-1]).double()
        return cls(flat.mean(0).float(), flat.std(0).clamp_min(min_std).float())

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


# ----------------------------------------------------------------------------- numpy helpers
def motion_to_features(motion, rest: RestSkeleton) -> np.ndarray:
    """(T, 276) world-frame features of a whole Motion (first frame's deltas are zero)."""
    transl = torch.as_tensor(motion.transl, dtype=torch.float64)
    rot = torch.as_tensor(motion.rotations, dtype=torch.float64)
    transl = torch.cat([transl[:1], transl])
    rot = torch.cat([rot[:1], rot])
    off = torch.as_tensor(rest.body_offsets, dtype=torch.float64)
    return pose_features(transl, rot, off).numpy().astype(np.float32)


def features_to_motion(feats, take_id: str = "generated", text: str = "", fps: float = FPS):
    """A Motion from (T, 276) features (transl + 6D rotations; joints are recomputable)."""
    from ..data.motion import Motion

    transl, rot, _ = features_to_pose(_t(feats))
    return Motion(take_id, fps, transl.numpy().astype(np.float32), rot.numpy().astype(np.float32), text)


def extract_windows(num_frames: int, length: int, stride: int) -> np.ndarray:
    """Start indices of overlapping windows of `length` poses in a take of `num_frames`."""
    if num_frames < length:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, num_frames - length + 1, stride, dtype=np.int64)


def extract_primitives(motion, rest: RestSkeleton, stride: int = 1):
    """All canonicalised primitives of a Motion: (features (P, H+F, 276), Frames), overlapping
    windows of 1+H+F poses every `stride` frames."""
    length = 1 + PRIMITIVE
    starts = extract_windows(motion.num_frames, length, stride)
    idx = torch.as_tensor(starts)[:, None] + torch.arange(length)[None]
    transl = torch.as_tensor(motion.transl, dtype=torch.float32)[idx]
    rot = torch.as_tensor(motion.rotations, dtype=torch.float32)[idx]
    return primitive_features(transl, rot, body_offsets(rest))
