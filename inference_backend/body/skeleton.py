"""SMPL-X kinematic tree and the canonical neutral rest skeleton.

Conventions (see README "Body and motion"): Z up, metres, the rest pose is SMPL-X's T-pose,
the body faces -Y and its left side is +X (SMPL's Y-up frame turned +90 degrees about X,
which is also how the SMPL-X Blender add-on places the body).

Without the licensed SMPL-X model file, joint offsets come from a template of SMPL-X's neutral
joint layout whose bone *lengths* are replaced by lengths measured from the training data
(`assets/skeleton/rest_skeleton.json`, written by `python -m inference_backend.data build`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye_smplhf", "right_eye_smplhf",
    "left_index1", "left_index2", "left_index3", "left_middle1", "left_middle2", "left_middle3",
    "left_pinky1", "left_pinky2", "left_pinky3", "left_ring1", "left_ring2", "left_ring3",
    "left_thumb1", "left_thumb2", "left_thumb3",
    "right_index1", "right_index2", "right_index3", "right_middle1", "right_middle2",
    "right_middle3", "right_pinky1", "right_pinky2", "right_pinky3", "right_ring1", "right_ring2",
    "right_ring3", "right_thumb1", "right_thumb2", "right_thumb3",
)
NUM_JOINTS = len(JOINT_NAMES)  # 55

PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15]
    + [20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38]
    + [21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53],
    dtype=np.int64,
)

NUM_BODY_JOINTS = 22  # pelvis .. right_wrist: the joints the model animates
BODY_JOINT_NAMES = JOINT_NAMES[:NUM_BODY_JOINTS]
BODY_PARENTS = PARENTS[:NUM_BODY_JOINTS]
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


# Index of each joint's left/right counterpart (itself for the midline), for mirroring data.
MIRROR_INDEX = np.array([JOINT_INDEX[_mirror_name(n)] for n in JOINT_NAMES], dtype=np.int64)

# SMPL-X neutral joint offsets from the parent joint, in SMPL's Y-up frame (metres), rounded.
# Only directions and rough proportions matter: body lengths are re-measured from the data.
_TEMPLATE_OFFSETS_YUP = {
    "pelvis": (0.0, 0.0, 0.0),
    "left_hip": (0.058, -0.082, -0.018), "right_hip": (-0.060, -0.091, -0.014),
    "spine1": (0.004, 0.124, -0.038),
    "left_knee": (0.043, -0.386, 0.008), "right_knee": (-0.043, -0.383, -0.005),
    "spine2": (0.005, 0.138, 0.027),
    "left_ankle": (-0.015, -0.427, -0.037), "right_ankle": (0.019, -0.420, -0.034),
    "spine3": (-0.002, 0.056, 0.002),
    "left_foot": (0.041, -0.060, 0.122), "right_foot": (-0.035, -0.063, 0.130),
    "neck": (-0.013, 0.212, -0.033),
    "left_collar": (0.072, 0.114, -0.019), "right_collar": (-0.083, 0.112, -0.024),
    "head": (0.010, 0.089, 0.050),
    "left_shoulder": (0.123, 0.045, -0.019), "right_shoulder": (-0.113, 0.047, -0.009),
    "left_elbow": (0.255, -0.016, -0.021), "right_elbow": (-0.260, -0.014, -0.028),
    "left_wrist": (0.266, 0.009, -0.003), "right_wrist": (-0.269, 0.007, -0.006),
    "jaw": (0.0, 0.02, 0.03),
    "left_eye_smplhf": (0.03, 0.07, 0.09), "right_eye_smplhf": (-0.03, 0.07, 0.09),
}
# Fingers in a flat hand along +X (left) / -X (right): (knuckle offset from wrist, phalanx length).
_FINGERS_YUP = {
    "index": ((0.095, 0.0, 0.025), 0.032),
    "middle": ((0.100, 0.0, 0.002), 0.034),
    "ring": ((0.092, 0.0, -0.020), 0.030),
    "pinky": ((0.080, 0.0, -0.040), 0.024),
    "thumb": ((0.030, -0.010, 0.030), 0.030),
}
for _side, _sign in (("left", 1.0), ("right", -1.0)):
    for _finger, ((_x, _y, _z), _seg) in _FINGERS_YUP.items():
        _TEMPLATE_OFFSETS_YUP[f"{_side}_{_finger}1"] = (_sign * _x, _y, _z)
        _TEMPLATE_OFFSETS_YUP[f"{_side}_{_finger}2"] = (_sign * _seg, 0.0, 0.0)
        _TEMPLATE_OFFSETS_YUP[f"{_side}_{_finger}3"] = (_sign * _seg * 0.8, 0.0, 0.0)

# SMPL Y-up (x, y, z) -> Z-up (x, -z, y): +90 degrees about X.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def template_offsets() -> np.ndarray:
    """(55, 3) SMPL-X-like joint offsets from the parent, Z-up metres (pelvis at the origin).

    Made exactly left/right symmetric (each side averaged with its mirrored counterpart, midline
    joints on x = 0) so that mirroring a motion is exact: augmentation relies on it.
    """
    zup = np.array([_TEMPLATE_OFFSETS_YUP[n] for n in JOINT_NAMES], dtype=np.float64) @ Y_UP_TO_Z_UP.T
    flip = np.array([-1.0, 1.0, 1.0])
    return 0.5 * (zup + zup[MIRROR_INDEX] * flip)


def offsets_to_positions(offsets: np.ndarray, parents: np.ndarray = PARENTS) -> np.ndarray:
    """Rest joint positions (J, 3) from parent-relative offsets (J, 3)."""
    positions = np.zeros_like(offsets)
    for j, p in enumerate(parents):
        positions[j] = offsets[j] if p < 0 else positions[p] + offsets[j]
    return positions


def bone_lengths(offsets: np.ndarray) -> np.ndarray:
    return np.linalg.norm(offsets, axis=-1)


@dataclass
class RestSkeleton:
    """A rest (T-pose) skeleton with SMPL-X topology: per-joint offsets from the parent."""

    offsets: np.ndarray  # (55, 3) Z-up metres; offsets[0] is the pelvis (zero)
    source: str = "template"

    @property
    def positions(self) -> np.ndarray:
        """(55, 3) rest joint positions with the pelvis at the origin."""
        return offsets_to_positions(self.offsets)

    @property
    def body_offsets(self) -> np.ndarray:
        return self.offsets[:NUM_BODY_JOINTS]

    @property
    def pelvis_height(self) -> float:
        """Pelvis height above the floor in the rest pose (lowest foot joint at z = 0)."""
        return float(-self.positions[:NUM_BODY_JOINTS, 2].min())

    @classmethod
    def template(cls) -> "RestSkeleton":
        return cls(template_offsets(), source="template")

    @classmethod
    def from_bone_lengths(cls, lengths: dict[str, float], source: str = "measured") -> "RestSkeleton":
        """Template directions with measured lengths; joints absent from `lengths` keep the
        template length scaled by the median measured/template ratio (keeps proportions)."""
        offsets = template_offsets()
        template = bone_lengths(offsets)
        ratios = [lengths[n] / template[JOINT_INDEX[n]] for n in lengths if template[JOINT_INDEX[n]] > 0]
        default_scale = float(np.median(ratios)) if ratios else 1.0
        for j, name in enumerate(JOINT_NAMES):
            if template[j] == 0:
                continue
            target = lengths.get(name, template[j] * default_scale)
            offsets[j] *= target / template[j]
        return cls(offsets, source=source)

    def to_json(self) -> dict:
        return {
            "format": "remogen-rest-skeleton-1",
            "source": self.source,
            "up_axis": "Z",
            "units": "metres",
            "joint_names": list(JOINT_NAMES),
            "parents": PARENTS.tolist(),
            "offsets": np.round(self.offsets, 6).tolist(),
        }

    @classmethod
    def from_json(cls, data: dict) -> "RestSkeleton":
        if list(data.get("joint_names", [])) != list(JOINT_NAMES):
            raise ValueError("rest skeleton file does not have SMPL-X joint names in SMPL-X order")
        offsets = np.asarray(data["offsets"], dtype=np.float64)
        if offsets.shape != (NUM_JOINTS, 3) or not np.isfinite(offsets).all():
            raise ValueError(f"rest skeleton offsets must be finite (55, 3), got {offsets.shape}")
        return cls(offsets, source=data.get("source", "file"))

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "RestSkeleton":
        return cls.from_json(json.loads(Path(path).read_text()))


ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
SHIPPED_REST_SKELETON = ASSETS_DIR / "skeleton" / "rest_skeleton.json"


def canonical_rest() -> RestSkeleton:
    """The shipped rest skeleton (bone lengths measured from the data), else the template."""
    if SHIPPED_REST_SKELETON.exists():
        return RestSkeleton.load(SHIPPED_REST_SKELETON)
    return RestSkeleton.template()
