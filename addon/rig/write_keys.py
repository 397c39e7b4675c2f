"""Write pose channels as keyframes into a new action (bpy).

One new action per generation ("ReMoGen <intent> <n>"), on its own slot for the armature
object; keys go in with the bulk API (`keyframe_points.add` + `foreach_set`), one F-curve per
channel. Blender 5.0 removed `Action.fcurves` (slotted actions, 4.4+); on 4.2–4.3 the legacy
`action.fcurves` is used. The action the object had before keeps a fake user so it is never
lost, and is only written into when `replace=True`.
"""
from __future__ import annotations

import bpy
import numpy as np

ACTION_TAG = "remogen_generated"


def _slotted() -> bool:
    from bpy_extras import anim_utils

    return "slots" in bpy.types.Action.bl_rna.properties and hasattr(anim_utils, "action_ensure_channelbag_for_slot")


def next_action_name(intent: str) -> str:
    """'ReMoGen <intent> <n>' with the first n not used by an existing action."""
    base = f"ReMoGen {' '.join(intent.split())[:40] or 'reaction'}"
    n = 1
    while f"{base} {n}" in bpy.data.actions:
        n += 1
    return f"{base} {n}"


def _prepare_action(obj, name: str, replace: bool):
    """The action to write into, assigned to `obj` on a slot; returns (action, curves) where
    `curves` is the collection with `.new(data_path, index=, ...)`."""
    anim = obj.animation_data or obj.animation_data_create()
    old = anim.action
    if replace and old is not None:
        action = old
    else:
        if old is not None:
            old.use_fake_user = True  # keep the user's animation even with no user left
        action = bpy.data.actions.new(name)
        action.use_fake_user = True
        action[ACTION_TAG] = True
    if _slotted():
        from bpy_extras.anim_utils import action_ensure_channelbag_for_slot

        if action is not old or anim.action_slot is None:
            slot = action.slots.new(id_type="OBJECT", name=obj.name)
            anim.action = action
            anim.action_slot = slot
        slot = anim.action_slot
        bag = action_ensure_channelbag_for_slot(action, slot)
        if replace:
            for fc in list(bag.fcurves):
                bag.fcurves.remove(fc)
        return action, bag
    anim.action = action
    if replace:
        for fc in list(action.fcurves):
            action.fcurves.remove(fc)
    return action, action


def new_action_for(obj, name: str):
    """Assign a fresh (empty) action on a new slot to `obj`, keeping the old one; returns it."""
    return _prepare_action(obj, name, replace=False)[0]


def _new_curve(curves, data_path: str, index: int, group: str):
    if hasattr(curves, "groups"):  # 4.4+ channelbag
        fc = curves.fcurves.new(data_path, index=index)
        grp = curves.groups.get(group) or curves.groups.new(group)
        fc.group = grp
        return fc
    return curves.fcurves.new(data_path, index=index, action_group=group)


def _key_curve(fc, frames: np.ndarray, values: np.ndarray) -> None:
    co = np.empty(2 * len(frames), dtype=np.float32)
    co[0::2] = frames
    co[1::2] = values
    fc.keyframe_points.add(len(frames))
    fc.keyframe_points.foreach_set("co", co)
    fc.keyframe_points.foreach_set("interpolation", np.full(len(frames), _LINEAR, dtype=np.int32))
    fc.update()


_LINEAR = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


def write_pose_action(obj, bone_names, quats: np.ndarray, root_location: np.ndarray, frame_start: int,
                      name: str, root_bone: str | None = None, replace: bool = False, euler: dict | None = None,
                      props: dict | None = None):
    """Key `quats` (T, J, 4) on `bone_names` and `root_location` (T, 3) on `root_bone` (the first
    bone by default) at frames frame_start .. frame_start + T - 1; returns the action.

    Bones listed in `euler` ({bone: (T, 3) Euler angles}) are keyed on rotation_euler instead.
    `props` ({(bone, custom property): (T,) values}) keys pose-bone custom properties too (a Rigify
    rig's IK_FK switches)."""
    quats = np.asarray(quats, dtype=np.float64)
    frames = np.arange(frame_start, frame_start + len(quats), dtype=np.float64)
    action, curves = _prepare_action(obj, name, replace)
    root_bone = root_bone or bone_names[0]
    euler = euler or {}
    for j, bone in enumerate(bone_names):
        if bone in euler:
            path = f'pose.bones["{bone}"].rotation_euler'
            for i in range(3):
                _key_curve(_new_curve(curves, path, i, bone), frames, euler[bone][:, i])
        else:
            path = f'pose.bones["{bone}"].rotation_quaternion'
            for i in range(4):
                _key_curve(_new_curve(curves, path, i, bone), frames, quats[:, j, i])
        if bone == root_bone and root_location is not None:
            path = f'pose.bones["{bone}"].location'
            for i in range(3):
                _key_curve(_new_curve(curves, path, i, bone), frames, root_location[:, i])
    for (bone, prop), values in (props or {}).items():
        _key_curve(_new_curve(curves, f'pose.bones["{bone}"]["{prop}"]', 0, bone), frames,
                   np.broadcast_to(np.asarray(values, dtype=np.float64), frames.shape))
    return action
