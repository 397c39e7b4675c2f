"""Read the partner's SMPL-X body joints from any mapped armature, per frame (bpy).

Positions come from the *evaluated* armature (depsgraph), so constraints, NLA strips, drivers
and parenting all count, exactly as the animator sees the partner in the viewport.
"""
from __future__ import annotations

import numpy as np

from .bonemaps import BoneMap, BoneMapError, auto_resolve
from .skeleton import BODY_JOINT_NAMES


class PartnerError(ValueError):
    """The chosen partner cannot be read (not an armature, unmappable bones, ...)."""


def partner_bone_map(obj, preset: str = "AUTO") -> BoneMap:
    if obj is None:
        raise PartnerError("no partner armature is set")
    if obj.type != "ARMATURE":
        raise PartnerError(f"the partner {obj.name!r} is a {obj.type.lower()}, not an armature")
    try:
        return auto_resolve([b.name for b in obj.data.bones], preset)
    except BoneMapError as exc:
        raise PartnerError(f"partner {obj.name!r}: {exc}") from None


def _blend_matrix(bonemap: BoneMap) -> tuple[list[str], np.ndarray]:
    """Bones to read and a (22, n_bones) matrix turning their heads into joint positions."""
    bones = bonemap.position_bones()
    weights = np.zeros((len(BODY_JOINT_NAMES), len(bones)))
    for j, joint in enumerate(BODY_JOINT_NAMES):
        for bone, w in bonemap.positions[joint]:
            weights[j, bones.index(bone)] += w
    return bones, weights


def evaluated_joint_positions(context, obj, bonemap: BoneMap, frame: int, subframe: float = 0.0) -> np.ndarray:
    """(22, 3) world joint positions at one frame (moves the scene's current frame)."""
    bones, weights = _blend_matrix(bonemap)
    if context.scene.frame_current != frame or subframe:  # during playback: read as evaluated
        context.scene.frame_set(frame, subframe=subframe)
    return _read(context, obj, bones, weights)


def _read(context, obj, bones, weights) -> np.ndarray:
    ev = obj.evaluated_get(context.evaluated_depsgraph_get())
    mw = np.array(ev.matrix_world, dtype=np.float64)
    heads = np.array([ev.pose.bones[b].head for b in bones], dtype=np.float64)
    world = heads @ mw[:3, :3].T + mw[:3, 3]
    return weights @ world


def read_partner_joints(context, obj, frames, preset: str = "AUTO") -> np.ndarray:
    """(T, 22, 3) float32 SMPL-X body joint positions (world, metres) for each frame in `frames`.

    The scene's current frame is restored afterwards."""
    bonemap = partner_bone_map(obj, preset)
    bones, weights = _blend_matrix(bonemap)
    scene = context.scene
    current = scene.frame_current
    out = np.empty((len(frames), len(BODY_JOINT_NAMES), 3), dtype=np.float32)
    try:
        for i, frame in enumerate(frames):
            scene.frame_set(int(frame))
            out[i] = _read(context, obj, bones, weights)
    finally:
        scene.frame_set(current)
    unit = scene.unit_settings.scale_length
    if unit and unit != 1.0:  # scene units -> metres
        out *= unit
    return out
