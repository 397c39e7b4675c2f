"""Create the SMPL-X rig; bake a generated reaction onto another rig (bpy)."""
from __future__ import annotations

import bpy
import numpy as np

from ..rig import keys
from ..rig.bake import bake_reaction
from ..rig.create_rig import RIG_TAG, bone_rest, create_smplx_rig
from ..rig.skeleton import BODY_JOINT_NAMES, load_rest_offsets
from .common import rest_skeleton_path, settings, user_errors


class REMOGEN_OT_create_rig(bpy.types.Operator):
    """Create an SMPL-X armature standing at the origin in its rest (T-)pose"""

    bl_idname = "remogen.create_rig"
    bl_label = "Create SMPL-X Rig"
    bl_options = {"REGISTER", "UNDO"}

    body_only: bpy.props.BoolProperty(name="Body Only", description="Only the 22 body joints (no hands)")

    def execute(self, context):
        try:
            offsets = load_rest_offsets(rest_skeleton_path(context))
        except user_errors() as exc:
            self.report({"ERROR"}, f"ReMoGen: {exc}")
            return {"CANCELLED"}
        obj = create_smplx_rig(offsets, name="SMPL-X Rig", body_only=self.body_only, context=context)
        for other in context.selected_objects:
            other.select_set(False)
        obj.select_set(True)
        context.view_layer.objects.active = obj
        return {"FINISHED"}


def reaction_from_rig(context, rig, frames) -> dict:
    """Reaction frames read back from an SMPL-X rig's evaluated pose channels."""
    names = list(BODY_JOINT_NAMES)
    rots, heads = bone_rest(rig, names)
    scene = context.scene
    current = scene.frame_current
    quats = np.empty((len(frames), len(names), 4))
    loc = np.empty((len(frames), 3))
    try:
        for t, frame in enumerate(frames):
            scene.frame_set(frame)
            pose = rig.evaluated_get(context.evaluated_depsgraph_get()).pose
            quats[t] = [tuple(pose.bones[n].rotation_quaternion) for n in names]
            loc[t] = tuple(pose.bones[names[0]].location)
    finally:
        scene.frame_set(current)
    return keys.frames_from_pose(quats, loc, rots, heads[0], np.array(rig.matrix_world))


class REMOGEN_OT_bake_to_rig(bpy.types.Operator):
    """Bake the active SMPL-X rig's animation onto the target armature (new action)"""

    bl_idname = "remogen.bake_to_rig"
    bl_label = "Bake to Rig"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return obj is not None and obj.type == "ARMATURE" and RIG_TAG in obj

    def execute(self, context):
        s = settings(context)
        source, target = context.active_object, s.target
        if target is None or target == source:
            self.report({"ERROR"}, "ReMoGen: choose a target armature other than the SMPL-X rig")
            return {"CANCELLED"}
        start, end = s.frame_range(context.scene)
        try:
            offsets = load_rest_offsets(rest_skeleton_path(context))
            frames = reaction_from_rig(context, source, range(start, end + 1))
            action = bake_reaction(target, frames, offsets, start, s.intent, preset=s.target_map)
        except user_errors() as exc:
            self.report({"ERROR"}, f"ReMoGen: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"ReMoGen: baked {action.name!r} onto {target.name!r}")
        return {"FINISHED"}
