"""Where the bones of the created SMPL-X rig go: head, tail and roll axis of every bone.

Each bone's head sits at its joint; its tail points at the joint's main child (pelvis -> spine1,
spine3 -> neck, wrist -> middle finger, others -> their only child). Bones without a child use a
fixed direction: the head points up (+Z), the toes (left_foot/right_foot), jaw and eyes point
forward (-Y), other leaves continue their parent's direction.

Roll, chosen so the bone axes are predictable in the rest (T-)pose: a bone's local Y axis runs
head -> tail (Blender's rule) and its local Z axis points to the body's front (-Y, made
perpendicular to the bone); bones that themselves point forward (toes, jaw, eyes) have local Z
pointing up (+Z); X = Y x Z. For example a spine bone has X = +X, Y = +Z, Z = -Y; the left upper
arm (pointing +X) has X = -Z, Y = +X, Z = -Y; a left leg bone (pointing down) has X = -X,
Y = -Z, Z = -Y. `bone_axes` gives the exact matrices; `tests/test_addon_rig.py` checks that
Blender builds the same axes.
"""
from __future__ import annotations

import numpy as np

from .skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS, children

_MAIN_CHILD = {"pelvis": "spine1", "spine3": "neck", "left_wrist": "left_middle1", "right_wrist": "right_middle1"}
_FIXED_LEAF = {  # joint -> (direction, length in metres)
    "head": ((0.0, 0.0, 1.0), 0.2),
    "left_foot": ((0.0, -1.0, 0.0), 0.08),
    "right_foot": ((0.0, -1.0, 0.0), 0.08),
    "jaw": ((0.0, -1.0, 0.0), 0.06),
    "left_eye_smplhf": ((0.0, -1.0, 0.0), 0.02),
    "right_eye_smplhf": ((0.0, -1.0, 0.0), 0.02),
}
FORWARD = np.array([0.0, -1.0, 0.0])
UP = np.array([0.0, 0.0, 1.0])


def bone_tails(positions: np.ndarray) -> np.ndarray:
    """(J, 3) tail positions for bones whose heads are the rest joint `positions` (J, 3)."""
    num = len(positions)
    parents = PARENTS[:num]
    kids = children(parents)
    tails = np.zeros_like(positions)
    for j in range(num):
        name = JOINT_NAMES[j]
        main = _MAIN_CHILD.get(name)
        if name in _FIXED_LEAF:
            direction, length = _FIXED_LEAF[name]
            tails[j] = positions[j] + length * np.asarray(direction)
        elif main is not None and JOINT_INDEX[main] < num:
            tails[j] = positions[JOINT_INDEX[main]]
        elif kids[j]:
            tails[j] = positions[kids[j][0]]
        else:  # leaf: continue the parent bone, 60 % of its length (at least 2 cm)
            p = parents[j]
            along = positions[j] - positions[p]
            length = max(0.6 * np.linalg.norm(along), 0.02)
            tails[j] = positions[j] + length * along / max(np.linalg.norm(along), 1e-9)
    return tails


def roll_axes(heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """(J, 3) the world direction each bone's local Z axis is aligned to (see module doc)."""
    axes = np.zeros_like(heads)
    for j in range(len(heads)):
        y = tails[j] - heads[j]
        y = y / np.linalg.norm(y)
        ref = UP if abs(y @ FORWARD) > 0.9 else FORWARD
        z = ref - (ref @ y) * y
        axes[j] = z / np.linalg.norm(z)
    return axes


def bone_axes(heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """(J, 3, 3) rest rotation of every bone: columns are its local X, Y, Z axes in the
    armature frame (what Blender's `bone.matrix_local.to_3x3()` holds)."""
    z = roll_axes(heads, tails)
    y = tails - heads
    y = y / np.linalg.norm(y, axis=-1, keepdims=True)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=-1)
