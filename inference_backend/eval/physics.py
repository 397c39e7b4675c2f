"""Physical plausibility of joint trajectories: foot skating, floor and body penetration, jerk.

Everything takes world joint positions `(T, 22, 3)` of the SMPL-X body joints (`BODY_JOINT_NAMES`
order), Z up, metres, the floor at z = 0, and the frame rate. Only joints are needed, so any
method's output (ours, a baseline, the real data) is measured the same way.

Definitions and thresholds (the numbers are module constants so tables can quote them):

* **Foot skating ratio** — GMD's (Karunratanakul et al. 2023, `calculate_skating_ratio`, also
  used by OmniControl and others): "the proportion of frames in which either foot skids more than
  2.5 cm while in contact with the ground (foot height < 5 cm)" at 20 fps. As there, a foot
  joint (`left_foot`, `right_foot`: the ball of the foot, z ≈ 0 when standing) *skates* between
  frames t-1 and t when its height is below `CONTACT_HEIGHT` = 0.05 m in both frames and its
  horizontal speed exceeds `SKATE_SPEED` = 0.5 m/s (2.5 cm per frame at 20 fps) both in that
  frame and averaged over a centred window of `SKATE_AVG_S` = 0.25 s (GMD's 5 frames at 20 fps;
  the average drops one-frame spikes at heel strike and toe-off; GMD pads the average with
  zeros, we repeat the edge speed so short windows are not undercounted). Speeds and windows are in
  seconds so the number does not depend on the frame rate. The ratio is over all T-1 frame
  transitions; the motion is not re-grounded.
* **Skate (DART)** — DART's continuous variant (Zhao et al. 2024, `evaluation/inbetween.py`):
  mean over frames and the four foot joints (ankles and feet) of the foot displacement weighted
  by `2 - 2**clip(h / 0.03, 0, 1)` (h = the higher of the two frames' heights), times fps, so in
  m/s. Weight 1 on the floor, 0 above 3 cm.
* **Floor penetration** — per frame, the depth of the lowest joint below z = 0 (0 when above);
  the mean and the maximum over frames, and the fraction of frames deeper than 1 cm.
  The motion is *not* re-grounded first (DART re-grounds; we want floating and sinking to show).
* **Jerk** — mean over frames and joints of the norm of the third time derivative of the
  positions (finite differences), m/s³, as DART's `calc_jerk`.
* **Inter-person penetration** — each body is 21 capsules, one per bone (parent → child joint)
  with the radii in `CAPSULE_RADII` (chosen a little *under* an average adult's limb and torso
  half-thickness, so hands resting on a shoulder or linked arms barely register). Two capsules
  penetrate by `r1 + r2 - d` where d is the distance between their axis segments. Per frame we
  take the deepest pair; we report the fraction of frames with any penetration, and the mean and
  maximum of the per-frame depth.
* **Scene penetration** — capsule axis samples (`SAMPLES_PER_BONE` points per bone, joints
  included) looked up in a boolean voxel occupancy grid. A frame penetrates when any sample lies
  in an occupied voxel. Radii are not added, so a floor slab whose top is at z = 0 does not
  count feet standing on it; the floor is measured by `floor_penetration` instead.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..body import BODY_JOINT_NAMES, BODY_PARENTS, NUM_BODY_JOINTS

_IDX = {name: i for i, name in enumerate(BODY_JOINT_NAMES)}

CONTACT_HEIGHT = 0.05   # m: a foot joint below this height is in contact with the floor
SKATE_SPEED = 0.5       # m/s: a foot in contact moving faster than this horizontally skates
SKATE_AVG_S = 0.25      # s: ... and faster than that on average over this centred window
SKATE_FEET = (_IDX["left_foot"], _IDX["right_foot"])
DART_FOOT_JOINTS = (_IDX["left_ankle"], _IDX["right_ankle"], _IDX["left_foot"], _IDX["right_foot"])
DART_FLOOR_THRESH = 0.03  # m
FLOOR_TOLERANCE = 0.01    # m: deeper than this counts as a penetrating frame
SAMPLES_PER_BONE = 5

# Bones as (parent, child) joint indices: 21 for the 22 body joints.
BONES = np.array([(int(BODY_PARENTS[j]), j) for j in range(1, NUM_BODY_JOINTS)], dtype=np.int64)

# Capsule radius per bone, keyed by the bone's child joint (metres).
CAPSULE_RADII_BY_CHILD = {
    "left_hip": 0.09, "right_hip": 0.09,            # pelvis block
    "spine1": 0.11, "spine2": 0.11, "spine3": 0.12,  # abdomen, chest
    "neck": 0.06, "head": 0.09,                      # neck, head (head joint is at the skull base)
    "left_collar": 0.07, "right_collar": 0.07,       # upper chest to the shoulders
    "left_knee": 0.07, "right_knee": 0.07,           # thighs
    "left_ankle": 0.05, "right_ankle": 0.05,         # shins
    "left_foot": 0.04, "right_foot": 0.04,           # feet
    "left_shoulder": 0.05, "right_shoulder": 0.05,   # shoulder caps
    "left_elbow": 0.045, "right_elbow": 0.045,       # upper arms
    "left_wrist": 0.035, "right_wrist": 0.035,       # forearms (no hand capsule: hands are not posed)
}
CAPSULE_RADII = np.array([CAPSULE_RADII_BY_CHILD[BODY_JOINT_NAMES[c]] for _, c in BONES])


def check_joints(joints, name: str = "joints") -> np.ndarray:
    """(T, 22, 3) finite float array, else a ValueError naming the argument."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_BODY_JOINTS, 3):
        raise ValueError(f"{name} must have shape (T, 22, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError(f"{name} has non-finite values")
    return joints


def _check_fps(fps: float) -> float:
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return float(fps)


# ----------------------------------------------------------------------------- feet and floor
def foot_skating_ratio(joints, fps: float, contact_height: float = CONTACT_HEIGHT,
                       skate_speed: float = SKATE_SPEED) -> float:
    """Fraction of frame transitions where either foot is on the floor and slides (see module doc)."""
    joints, fps = check_joints(joints), _check_fps(fps)
    if joints.shape[0] < 2:
        return 0.0
    feet = joints[:, SKATE_FEET]                                   # (T, 2, 3)
    low = np.maximum(feet[1:, :, 2], feet[:-1, :, 2]) < contact_height
    speed = np.linalg.norm(feet[1:, :, :2] - feet[:-1, :, :2], axis=-1) * fps   # (T-1, 2)
    avg = uniform_filter1d(speed, size=max(1, int(round(SKATE_AVG_S * fps))), axis=0, mode="nearest")
    return float((low & (speed > skate_speed) & (avg > skate_speed)).any(axis=1).mean())


def dart_skate(joints, fps: float, floor_thresh: float = DART_FLOOR_THRESH) -> float:
    """DART's height-weighted foot displacement, m/s (see module doc)."""
    joints, fps = check_joints(joints), _check_fps(fps)
    if joints.shape[0] < 2:
        return 0.0
    feet = joints[:, DART_FOOT_JOINTS]
    disp = np.linalg.norm(feet[1:] - feet[:-1], axis=-1)
    height = np.maximum(feet[1:, :, 2], feet[:-1, :, 2])
    weight = 2.0 - 2.0 ** np.clip(height / floor_thresh, 0.0, 1.0)
    return float((disp * weight).mean() * fps)


def floor_penetration(joints, tolerance: float = FLOOR_TOLERANCE) -> dict[str, float]:
    """Depth of the lowest joint below z = 0: mean and max over frames (m), and the fraction of
    frames deeper than `tolerance`."""
    joints = check_joints(joints)
    depth = np.maximum(0.0, -joints[:, :, 2].min(axis=1))
    return {"mean_depth": float(depth.mean()), "max_depth": float(depth.max()),
            "frame_ratio": float((depth > tolerance).mean())}


def jerk(joints, fps: float) -> float:
    """Mean norm of the third derivative of joint positions, m/s³ (0 for fewer than 4 frames)."""
    joints, fps = check_joints(joints), _check_fps(fps)
    if joints.shape[0] < 4:
        return 0.0
    third = np.diff(joints, n=3, axis=0) * fps**3
    return float(np.linalg.norm(third, axis=-1).mean())


# ----------------------------------------------------------------------------- capsules
def capsule_segments(joints) -> tuple[np.ndarray, np.ndarray]:
    """Bone axis end points: (T, 21, 3) parent ends and (T, 21, 3) child ends."""
    joints = np.asarray(joints)
    return joints[:, BONES[:, 0]], joints[:, BONES[:, 1]]


def segment_distance(p1, q1, p2, q2) -> np.ndarray:
    """Shortest distance between segments p1-q1 and p2-q2, batched over leading dims (..., 3).

    Ericson, *Real-Time Collision Detection* 5.1.9, with the degenerate (point) cases handled by
    clamping; written without branches so it vectorises.
    """
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = (d1 * d1).sum(-1)
    e = (d2 * d2).sum(-1)
    f = (d2 * r).sum(-1)
    c = (d1 * r).sum(-1)
    b = (d1 * d2).sum(-1)
    eps = 1e-12
    denom = a * e - b * b
    # Closest point on the infinite line 1 to line 2, clamped to the segment (0 when parallel).
    s = np.where(denom > eps, np.clip((b * f - c * e) / np.maximum(denom, eps), 0.0, 1.0), 0.0)
    # Segment 2 is a point: the closest point of segment 1 to it.
    s = np.where(e > eps, s, np.where(a > eps, np.clip(-c / np.maximum(a, eps), 0.0, 1.0), 0.0))
    t = np.where(e > eps, (b * s + f) / np.maximum(e, eps), 0.0)
    # If t falls outside [0, 1], clamp it and recompute s for the clamped t.
    t_clamped = np.clip(t, 0.0, 1.0)
    s = np.where(t != t_clamped, np.where(a > eps, np.clip((b * t_clamped - c) / np.maximum(a, eps), 0.0, 1.0), 0.0), s)
    t = t_clamped
    c1 = p1 + d1 * s[..., None]
    c2 = p2 + d2 * t[..., None]
    return np.linalg.norm(c1 - c2, axis=-1)


def interperson_depth(joints_a, joints_b) -> np.ndarray:
    """(T,) deepest capsule-capsule penetration between two people per frame (0 when apart)."""
    joints_a = check_joints(joints_a, "joints_a")
    joints_b = check_joints(joints_b, "joints_b")
    if joints_a.shape != joints_b.shape:
        raise ValueError(f"joints_a {joints_a.shape} and joints_b {joints_b.shape} must have the same shape")
    pa, qa = capsule_segments(joints_a)
    pb, qb = capsule_segments(joints_b)
    # All bone pairs: (T, 21, 1, 3) against (T, 1, 21, 3).
    dist = segment_distance(pa[:, :, None], qa[:, :, None], pb[:, None], qb[:, None])
    depth = CAPSULE_RADII[:, None] + CAPSULE_RADII[None, :] - dist
    return np.maximum(0.0, depth.reshape(depth.shape[0], -1).max(axis=1))


def interperson_penetration(joints_a, joints_b) -> dict[str, float]:
    """Fraction of frames where the two bodies' capsules overlap, and the mean/max per-frame depth (m)."""
    depth = interperson_depth(joints_a, joints_b)
    return {"frame_ratio": float((depth > 0).mean()), "mean_depth": float(depth.mean()),
            "max_depth": float(depth.max())}


# ----------------------------------------------------------------------------- scene
@dataclass
class VoxelGrid:
    """Boolean occupancy: voxel (i, j, k) covers origin + voxel_size * [(i, j, k), (i+1, j+1, k+1))."""

    occupancy: np.ndarray  # (X, Y, Z) bool
    origin: np.ndarray     # (3,) world position of the grid's minimum corner, metres
    voxel_size: float      # metres

    def __post_init__(self):
        self.occupancy = np.asarray(self.occupancy)
        self.origin = np.asarray(self.origin, dtype=np.float64).reshape(-1)
        if self.occupancy.ndim != 3 or self.occupancy.dtype != bool:
            raise ValueError(f"occupancy must be a 3-D bool array, got {self.occupancy.dtype} {self.occupancy.shape}")
        if self.origin.shape != (3,) or not np.isfinite(self.origin).all():
            raise ValueError(f"origin must be 3 finite numbers, got {self.origin}")
        if not (np.isfinite(self.voxel_size) and self.voxel_size > 0):
            raise ValueError(f"voxel_size must be a positive number, got {self.voxel_size}")

    def occupied(self, points) -> np.ndarray:
        """(..., 3) world points -> (...) bool; points outside the grid are free."""
        idx = np.floor((np.asarray(points) - self.origin) / self.voxel_size).astype(np.int64)
        inside = ((idx >= 0) & (idx < np.array(self.occupancy.shape))).all(-1)
        idx = np.where(inside[..., None], idx, 0)
        return inside & self.occupancy[idx[..., 0], idx[..., 1], idx[..., 2]]


def capsule_samples(joints, samples_per_bone: int = SAMPLES_PER_BONE) -> np.ndarray:
    """(T, 21 * n, 3) points evenly spaced along every bone axis, both joints included."""
    p, q = capsule_segments(joints)
    w = np.linspace(0.0, 1.0, samples_per_bone)[None, None, :, None]
    pts = p[:, :, None] + (q - p)[:, :, None] * w
    return pts.reshape(pts.shape[0], -1, 3)


def scene_penetration(joints, grid: VoxelGrid, samples_per_bone: int = SAMPLES_PER_BONE) -> dict[str, float]:
    """Fraction of frames with any body sample in an occupied voxel, and the mean fraction of
    samples inside per frame."""
    joints = check_joints(joints)
    inside = grid.occupied(capsule_samples(joints, samples_per_bone))  # (T, S)
    return {"frame_ratio": float(inside.any(axis=1).mean()), "sample_ratio": float(inside.mean())}


def physics_metrics(joints, fps: float) -> dict[str, float]:
    """The single-person metrics of one motion, flat, for tables."""
    floor = floor_penetration(joints)
    return {
        "skating_ratio": foot_skating_ratio(joints, fps),
        "dart_skate": dart_skate(joints, fps),
        "floor_mean_depth": floor["mean_depth"],
        "floor_max_depth": floor["max_depth"],
        "floor_frame_ratio": floor["frame_ratio"],
        "jerk": jerk(joints, fps),
    }
