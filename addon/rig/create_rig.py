"""Create the SMPL-X-topology armature that receives generated reactions (bpy).

Bone heads sit at the rest joints of the rest skeleton (standing on the floor, z = 0 under the
lowest foot joint), tails and rolls follow `layout` (Y along the bone, Z to the body's front).
"""
from __future__ import annotations

import bpy
import numpy as np

from .layout import bone_tails, roll_axes
from .skeleton import JOINT_NAMES, NUM_BODY_JOINTS, PARENTS, standing_rest_positions

RIG_TAG = "remogen_rig"  # custom property marking rigs made here (value: number of bones)


def create_smplx_rig(offsets: np.ndarray, name: str = "ReMoGen Reaction", body_only: bool = False,
                     collection=None, context=None):
    """A new armature object linked to `collection` (the scene's by default); returns it.

    offsets: (55, 3) parent-relative rest offsets (Z-up metres), as in rest_skeleton.json.
    body_only: only the 22 body joints (no hands, jaw, eyes)."""
    context = context or bpy.context
    count = NUM_BODY_JOINTS if body_only else len(JOINT_NAMES)
    heads = standing_rest_positions(offsets)[:count]
    tails = bone_tails(heads)
    axes = roll_axes(heads, tails)

    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    (collection or context.scene.collection).objects.link(obj)
    obj[RIG_TAG] = count

    view_layer = context.view_layer
    previous = view_layer.objects.active
    if previous is not None and previous.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        bones = []
        for j in range(count):
            eb = arm.edit_bones.new(JOINT_NAMES[j])
            eb.head = heads[j].tolist()
            eb.tail = tails[j].tolist()
            eb.align_roll(axes[j].tolist())
            if PARENTS[j] >= 0:
                eb.parent = bones[PARENTS[j]]
            eb.use_deform = True
            bones.append(eb)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous if previous is not None else obj
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    arm.display_type = "OCTAHEDRAL"
    return obj


def bone_rest(obj, names) -> tuple[np.ndarray, np.ndarray]:
    """Rest rotation (J, 3, 3) and head (J, 3) of the named bones, in the armature frame."""
    rots, heads = [], []
    for name in names:
        bone = obj.data.bones[name]
        m = np.array(bone.matrix_local, dtype=np.float64)
        rots.append(m[:3, :3])
        heads.append(m[:3, 3])
    return np.array(rots), np.array(heads)
