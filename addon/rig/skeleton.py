"""The SMPL-X body as the add-on sees it: joint names, parents and the rest skeleton file.

The add-on cannot import `inference_backend` (no torch in Blender), so it keeps this small copy;
`tests/test_addon_skeleton.py` asserts it equals `inference_backend.body.skeleton`.

Conventions: Z up, metres, rest pose = SMPL-X T-pose, the body faces -Y, its left is +X.
"""
from __future__ import annotations

import json
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
PARENTS = (
    (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15)
    + (20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38)
    + (21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53)
)
NUM_BODY_JOINTS = 22  # pelvis .. right_wrist: the joints the model animates
BODY_JOINT_NAMES = JOINT_NAMES[:NUM_BODY_JOINTS]
BODY_PARENTS = PARENTS[:NUM_BODY_JOINTS]
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

REST_FORMAT = "remogen-rest-skeleton-1"


class RestSkeletonError(ValueError):
    """The rest skeleton file is missing or malformed."""


def rest_offsets_from_json(data: dict, source: str = "rest skeleton") -> np.ndarray:
    """(55, 3) parent-relative offsets from a `remogen-rest-skeleton-1` dict, validated."""
    if data.get("format") != REST_FORMAT:
        raise RestSkeletonError(f"{source}: format is {data.get('format')!r}, expected {REST_FORMAT!r}")
    if list(data.get("joint_names", [])) != list(JOINT_NAMES):
        raise RestSkeletonError(f"{source}: joint_names are not the 55 SMPL-X joints in SMPL-X order")
    if list(data.get("parents", [])) != list(PARENTS):
        raise RestSkeletonError(f"{source}: parents do not match the SMPL-X kinematic tree")
    offsets = np.asarray(data.get("offsets"), dtype=np.float64)
    if offsets.shape != (len(JOINT_NAMES), 3) or not np.isfinite(offsets).all():
        raise RestSkeletonError(f"{source}: offsets must be finite numbers of shape (55, 3), got {offsets.shape}")
    return offsets


def load_rest_offsets(path: str | Path) -> np.ndarray:
    """Read `assets/skeleton/rest_skeleton.json` (or a file of the same format)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RestSkeletonError(f"rest skeleton file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise RestSkeletonError(f"cannot read rest skeleton file {path}: {exc}") from None
    return rest_offsets_from_json(data, source=str(path))


def rest_positions(offsets: np.ndarray, parents=PARENTS) -> np.ndarray:
    """(J, 3) rest joint positions from parent-relative offsets (pelvis at the origin)."""
    positions = np.zeros_like(np.asarray(offsets, dtype=np.float64))
    for j, p in enumerate(parents[: len(positions)]):
        positions[j] = offsets[j] if p < 0 else positions[p] + offsets[j]
    return positions


def standing_rest_positions(offsets: np.ndarray) -> np.ndarray:
    """Rest positions lifted so the lowest body joint touches the floor (z = 0).

    The created rig stands on the floor in its rest pose; pelvis height = -min body z."""
    positions = rest_positions(offsets)
    return positions + np.array([0.0, 0.0, -positions[:NUM_BODY_JOINTS, 2].min()])


def children(parents=PARENTS) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            kids[p].append(j)
    return kids


def find_rest_skeleton(explicit: str | Path | None = None, model_dir: str | Path | None = None,
                       backend_dir: str | Path | None = None) -> Path:
    """The rest skeleton file: the explicit path, else the copy shipped in the extension
    (data/rest_skeleton.json), else <model_dir>/skeleton/, else <backend_dir>/assets/skeleton/."""
    if explicit:
        return Path(explicit)
    candidates = [Path(__file__).resolve().parents[1] / "data" / "rest_skeleton.json"]
    if model_dir:
        candidates.append(Path(model_dir) / "skeleton" / "rest_skeleton.json")
    if backend_dir:
        candidates.append(Path(backend_dir) / "assets" / "skeleton" / "rest_skeleton.json")
    for path in candidates:
        if path.is_file():
            return path
    raise RestSkeletonError("no rest skeleton file found; looked at " + ", ".join(str(p) for p in candidates)
                            + " (give --rest-skeleton, or run the data build that writes assets/skeleton/rest_skeleton.json)")
