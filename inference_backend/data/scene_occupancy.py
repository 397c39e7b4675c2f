"""Scenes derived from a motion, for training the human-scene (HSI) module without scene data.

No public human-scene dataset with geometry is available, so each take gets a plausible scene
that is consistent with its motion by construction:
- a floor (the voxel layer just below z = 0);
- a support under the pelvis wherever the body sits (pelvis low and still): a seat-sized box
  from the floor to just below the thighs;
- obstacles: random boxes on the floor, kept only if they stay clear of the body's swept volume
  (the union of the body's capsules over the whole clip, plus a margin), so the motion never
  passes through them and walking around them is what the data shows.

Everything is a boolean voxel grid: a world grid (origin = min corner of voxel (0,0,0), voxel
size in metres) and, for the model, an ego-centric grid around the ego's canonical frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..body import BODY_PARENTS, JOINT_INDEX, RestSkeleton
from .motion import Motion

J = JOINT_INDEX
# Capsule radius per bone (named by its child joint), metres.
_TORSO = {"left_hip", "right_hip", "spine1", "spine2", "spine3", "neck", "left_collar", "right_collar"}
BONE_RADIUS = {name: (0.13 if name in _TORSO else 0.10 if name == "head" else 0.06)
               for name in JOINT_INDEX if JOINT_INDEX[name] < 22}
EGO_SHAPE = (32, 32, 16)
EGO_VOXEL = 0.08


@dataclass
class SceneGrid:
    occupancy: np.ndarray   # (X, Y, Z) bool
    origin: np.ndarray      # (3,) world position of the min corner of voxel (0, 0, 0)
    voxel: float            # edge length, metres

    def centres(self) -> np.ndarray:
        idx = np.stack(np.meshgrid(*[np.arange(n) for n in self.occupancy.shape], indexing="ij"), -1)
        return self.origin + (idx + 0.5) * self.voxel

    def world_to_index(self, points: np.ndarray) -> np.ndarray:
        return np.floor((points - self.origin) / self.voxel).astype(np.int64)


def capsule_samples(joints: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points along every body bone of every frame (N, 3) with each point's capsule radius (N,)."""
    pts, radii = [], []
    for c in range(1, 22):
        a, b = joints[:, BODY_PARENTS[c]], joints[:, c]
        n = max(2, int(np.ceil(np.linalg.norm(b - a, axis=-1).max() / step)) + 1)
        t = np.linspace(0.0, 1.0, n)[None, :, None]
        seg = a[:, None] * (1 - t) + b[:, None] * t
        pts.append(seg.reshape(-1, 3))
        radii.append(np.full(len(pts[-1]), BONE_RADIUS[list(JOINT_INDEX)[c]]))
    return np.concatenate(pts), np.concatenate(radii)


def swept_volume(joints: np.ndarray, grid_shape, origin, voxel: float, margin: float = 0.0) -> np.ndarray:
    """(X, Y, Z) bool: voxels whose centre lies within a body capsule (+ margin) at some frame."""
    pts, radii = capsule_samples(joints, voxel * 0.5)
    out = np.zeros(grid_shape, bool)
    for r in np.unique(radii):
        idx = np.floor((pts[radii == r] - origin) / voxel).astype(np.int64)
        ok = np.all((idx >= 0) & (idx < np.array(grid_shape)), axis=1)
        seeds = np.ones(grid_shape, bool)
        seeds[tuple(idx[ok].T)] = False
        # distance from voxel centres to the nearest seed voxel centre, plus half a diagonal for
        # the sample's offset inside its voxel: conservative.
        dist = ndimage.distance_transform_edt(seeds) * voxel
        out |= dist <= r + margin + voxel * np.sqrt(3) / 2
    return out


def sitting_frames(joints: np.ndarray, fps: float, standing_pelvis: float) -> np.ndarray:
    """(T,) bool: pelvis low (< 75 % of standing height) and nearly still for at least 0.3 s."""
    pelvis = joints[:, 0]
    speed = np.linalg.norm(np.gradient(pelvis, axis=0), axis=-1) * fps
    low_still = (pelvis[:, 2] < 0.75 * standing_pelvis) & (speed < 0.15)
    run = int(0.3 * fps)
    kept = ndimage.binary_opening(low_still, np.ones(max(run, 1), bool)) if run > 1 else low_still
    return kept


def scene_from_motion(motion: Motion, rest: RestSkeleton, rng: np.random.Generator | None = None,
                      voxel: float = EGO_VOXEL, num_obstacles: int = 6, margin: float = 0.10,
                      border: float = 2.5, max_tries: int = 200) -> SceneGrid:
    """A world occupancy grid consistent with the motion: floor, seats, obstacles clear of the body."""
    rng = rng or np.random.default_rng(0)
    joints = motion.joints(rest).astype(np.float64)
    lo = joints.reshape(-1, 3).min(0) - border
    hi = joints.reshape(-1, 3).max(0) + border
    lo[2], hi[2] = -voxel, max(hi[2] - border, 2.0) + voxel
    shape = tuple(np.ceil((hi - lo) / voxel).astype(int))
    grid = SceneGrid(np.zeros(shape, bool), lo, voxel)
    body = swept_volume(joints, shape, lo, voxel, margin=0.0)
    clear = swept_volume(joints, shape, lo, voxel, margin=margin)
    centres_z = lo[2] + (np.arange(shape[2]) + 0.5) * voxel
    grid.occupancy[:, :, centres_z < 0] = True                               # the floor

    def box_mask(lo_b, hi_b):
        i0 = np.clip(np.floor((lo_b - lo) / voxel).astype(int), 0, shape)
        i1 = np.clip(np.ceil((hi_b - lo) / voxel).astype(int), 0, shape)
        m = np.zeros(shape, bool)
        m[i0[0]:i1[0], i0[1]:i1[1], i0[2]:i1[2]] = True
        return m

    seated = sitting_frames(joints, motion.fps, rest.pelvis_height)
    for f in np.flatnonzero(seated)[:: max(1, int(motion.fps // 2))]:
        p = joints[f, 0]
        top = min(joints[f, J["left_hip"], 2], joints[f, J["right_hip"], 2]) - BONE_RADIUS["left_knee"]
        if top > 0.15:
            seat = box_mask(np.array([p[0] - 0.22, p[1] - 0.22, 0.0]), np.array([p[0] + 0.22, p[1] + 0.22, top]))
            grid.occupancy |= seat & ~body

    centre_xy = joints[:, 0, :2].mean(0)
    extent = np.maximum(joints[:, 0, :2].max(0) - joints[:, 0, :2].min(0), 1.0) / 2 + 1.5
    placed = 0
    for _ in range(max_tries):
        if placed >= num_obstacles:
            break
        size = rng.uniform([0.2, 0.2, 0.3], [1.0, 1.0, 1.2])
        c = centre_xy + rng.uniform(-extent, extent)
        m = box_mask(np.array([c[0] - size[0] / 2, c[1] - size[1] / 2, 0.0]),
                     np.array([c[0] + size[0] / 2, c[1] + size[1] / 2, size[2]]))
        if m.any() and not (m & clear).any():
            grid.occupancy |= m
            placed += 1
    return grid


def ego_transform(motion: Motion, rest: RestSkeleton, frame: int) -> np.ndarray:
    """4x4 world-from-ego: the canonical frame at `frame` (pelvis xy on the floor, hips along x, z up)."""
    joints = motion.joints(rest)[frame].astype(np.float64)
    x = joints[J["left_hip"]] - joints[J["right_hip"]]
    x[2] = 0.0
    x /= max(np.linalg.norm(x), 1e-9)
    z = np.array([0.0, 0.0, 1.0])
    m = np.eye(4)
    m[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    m[:3, 3] = [joints[0, 0], joints[0, 1], 0.0]
    return m


def occupancy_around(world: np.ndarray, origin: np.ndarray, voxel: float, ego_transform: np.ndarray,
                     shape=EGO_SHAPE, ego_voxel: float = EGO_VOXEL, z_min: float = -EGO_VOXEL) -> np.ndarray:
    """Ego-centric bool grid `shape` of `ego_voxel` cells (x, y centred on the ego, z from z_min),
    sampled (nearest voxel) from a world grid; outside the world grid counts as free."""
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).astype(np.float64)
    local = (idx + 0.5) * ego_voxel
    local[..., 0] -= shape[0] * ego_voxel / 2
    local[..., 1] -= shape[1] * ego_voxel / 2
    local[..., 2] += z_min
    pts = local @ ego_transform[:3, :3].T + ego_transform[:3, 3]
    wi = np.floor((pts - np.asarray(origin)) / voxel).astype(np.int64)
    inside = np.all((wi >= 0) & (wi < np.array(world.shape)), axis=-1)
    out = np.zeros(shape, bool)
    out[inside] = world[tuple(wi[inside].T)]
    return out
