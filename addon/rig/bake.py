"""Bake a reaction onto an existing rig (Rigify, Mixamo, CC3, ... named bones) (bpy).

The maths is in `retarget` (matching world-space bone directions per frame, so rest poses and
rolls may differ); this file reads the rig and writes the keys. Bones keyed in Euler keep their
rotation mode (values converted with mathutils, continuous in time).
"""
from __future__ import annotations

import numpy as np

from .bonemaps import BoneMapError, auto_resolve
from .keys import local_rotations
from .retarget import TargetRig, global_rotations, retarget
from .skeleton import NUM_BODY_JOINTS, standing_rest_positions
from .write_keys import next_action_name, write_pose_action


class BakeError(ValueError):
    """The target cannot receive the reaction."""


def _depth_order(bones) -> list:
    def depth(b):
        d = 0
        while b.parent is not None:
            b, d = b.parent, d + 1
        return d

    return sorted(bones, key=depth)


def target_rig(obj) -> TargetRig:
    ordered = _depth_order(list(obj.data.bones))
    names = [b.name for b in ordered]
    index = {n: i for i, n in enumerate(names)}
    parents = [index[b.parent.name] if b.parent is not None else -1 for b in ordered]
    rest = np.array([np.array(b.matrix_local, dtype=np.float64) for b in ordered])
    return TargetRig(names, parents, rest, np.array(obj.matrix_world, dtype=np.float64))


def check_target(obj, preset: str = "AUTO"):
    """The target's bone map, or BakeError when keys on it would not work (checked before any
    backend call, so a bad target costs nothing)."""
    if obj is None or obj.type != "ARMATURE":
        raise BakeError(f"the bake target {getattr(obj, 'name', None)!r} is not an armature")
    try:
        bonemap = auto_resolve([b.name for b in obj.data.bones], preset)
    except BoneMapError as exc:
        raise BakeError(f"target {obj.name!r}: {exc}") from None
    driven = constrained_bones(obj, bonemap.bones.values())
    if driven:
        raise BakeError(
            f"target {obj.name!r}: the bones {', '.join(driven[:6])}{' ...' if len(driven) > 6 else ''} follow "
            "constraints (a generated control rig such as Rigify's), so keys on them would have no effect; "
            "bake onto the rig's metarig or an unconstrained deform skeleton instead")
    return bonemap


def bake_reaction(obj, frames: dict, rest_offsets: np.ndarray, frame_start: int, intent: str,
                  preset: str = "AUTO", replace: bool = False, scale_height: bool = True):
    """Key the reaction `frames` (stacked transl/global_orient/body_pose) on `obj`; returns the new action."""
    if obj is None or obj.type != "ARMATURE":
        raise BakeError(f"the bake target {getattr(obj, 'name', None)!r} is not an armature")
    bonemap = check_target(obj, preset)
    local, transl = local_rotations(frames)
    smpl_rest = standing_rest_positions(rest_offsets)[:NUM_BODY_JOINTS]
    offsets = np.asarray(rest_offsets, dtype=np.float64)[:NUM_BODY_JOINTS]
    # transl is the pelvis position in the world, whatever the rest skeleton's pelvis height
    world_rot, positions = global_rotations(local, offsets, transl)
    try:
        names, quats, root, location = retarget(world_rot, positions, smpl_rest, target_rig(obj),
                                                bonemap.bones, scale_height=scale_height)
    except ValueError as exc:
        raise BakeError(f"target {obj.name!r}: {exc}") from None
    euler = {}
    for j, name in enumerate(names):
        pb = obj.pose.bones[name]
        if pb.rotation_mode == "AXIS_ANGLE":
            pb.rotation_mode = "QUATERNION"
        elif pb.rotation_mode != "QUATERNION":
            euler[name] = _to_euler(quats[:, j], pb.rotation_mode)
    return write_pose_action(obj, names, quats, location, frame_start, next_action_name(intent),
                             root_bone=root, replace=replace, euler=euler)


# Constraints that replace a bone's rotation (keys under them would be invisible).
_OVERRIDING = {"COPY_TRANSFORMS", "COPY_ROTATION", "CHILD_OF", "ARMATURE", "DAMPED_TRACK", "TRACK_TO",
               "LOCKED_TRACK", "IK", "SPLINE_IK", "STRETCH_TO"}


def constrained_bones(obj, names) -> list[str]:
    """Mapped bones whose pose a (non-muted, full-influence) constraint overrides."""
    out = []
    for name in names:
        for con in obj.pose.bones[name].constraints:
            if con.type in _OVERRIDING and con.enabled and con.influence > 0.5:
                out.append(name)
                break
    return out


def _to_euler(quats: np.ndarray, order: str) -> np.ndarray:
    from mathutils import Euler, Quaternion

    out = np.empty((len(quats), 3))
    prev = Euler((0.0, 0.0, 0.0), order)
    for t, q in enumerate(quats):
        prev = Quaternion(q).to_euler(order, prev)
        out[t] = prev
    return out
