"""Reading a partner's joints from real rigs (a CMU BVH through Blender's importer), bpy."""
from __future__ import annotations

import tarfile

import numpy as np
import pytest

from tests.blender_env import bpy_and_extension, ext_module, needs_bpy, reset

pytestmark = [pytest.mark.bpy, needs_bpy]

CMU_SCALE = 0.056444  # CMU length unit in metres


@pytest.fixture(scope="module")
def ext():
    return bpy_and_extension()[0]


@pytest.fixture(scope="module")
def bvh_18_01(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cmu")
    with tarfile.open(data_dir / "cmu" / "cmu_pairs_18-23_verified.tar.xz") as tf:
        tf.extract("pairs/18_01.bvh", out, filter="data")
    return out / "pairs" / "18_01.bvh"


def import_bvh(bpy, path):
    reset()
    bpy.ops.import_anim.bvh(filepath=str(path), global_scale=CMU_SCALE, axis_forward="-Z", axis_up="Y",
                            update_scene_fps=True, update_scene_duration=True)
    return bpy.context.view_layer.objects.active


@pytest.mark.data
def test_cmu_bvh_maps_all_joints_and_reads_plausible_positions(ext, bvh_18_01):
    bpy = ext
    read_partner = ext_module("rig.read_partner")
    obj = import_bvh(bpy, bvh_18_01)
    bonemap = read_partner.partner_bone_map(obj)
    assert bonemap.preset == "CMU_BVH" and len(bonemap.bones) == 22
    scene = bpy.context.scene
    frames = range(2, 2 + 60)  # frame 1 is the T-pose
    joints = read_partner.read_partner_joints(bpy.context, obj, frames)
    assert joints.shape == (60, 22, 3) and joints.dtype == np.float32
    names = ext_module("rig.skeleton").BODY_JOINT_NAMES
    idx = {n: i for i, n in enumerate(names)}
    hip_height = joints[:, idx["pelvis"], 2]
    assert 0.85 < np.median(hip_height) < 1.15  # the README: hip height about 1.0 m
    toes = joints[:, [idx["left_foot"], idx["right_foot"]], 2]
    assert toes.min() > -0.05 and toes.min() < 0.15
    head_above = joints[:, idx["head"], 2] - hip_height
    assert (head_above > 0.4).all()  # upright
    # walking: the pelvis travels, the per-frame step is small (no teleports)
    step = np.linalg.norm(np.diff(joints[:, 0, :2], axis=0), axis=-1)
    assert step.max() < 0.05 and np.linalg.norm(joints[-1, 0, :2] - joints[0, 0, :2]) > 0.3
    # left is left: facing = (left hip - right hip) x up points where the subject walks
    across = joints[:, idx["left_hip"]] - joints[:, idx["right_hip"]]
    facing = np.cross(across, [0.0, 0.0, 1.0]).mean(0)
    assert facing @ (joints[-1, 0] - joints[0, 0]) > 0
    assert scene.frame_current == 1  # restored


@pytest.mark.data
def test_constraints_count(ext, bvh_18_01):
    """A constraint moving the whole rig changes what is read (evaluated depsgraph)."""
    bpy = ext
    read_partner = ext_module("rig.read_partner")
    obj = import_bvh(bpy, bvh_18_01)
    before = read_partner.read_partner_joints(bpy.context, obj, [10])
    empty = bpy.data.objects.new("carrier", None)  # the rig rides on an empty through a constraint
    bpy.context.scene.collection.objects.link(empty)
    con = obj.constraints.new("COPY_LOCATION")
    con.target = empty
    con.use_offset = True
    empty.location = (2.0, 0.0, 0.0)
    bpy.context.view_layer.update()  # rebuild relations, as the UI does after adding a constraint
    after = read_partner.read_partner_joints(bpy.context, obj, [10])
    np.testing.assert_allclose(after - before, np.broadcast_to([2.0, 0.0, 0.0], before.shape), atol=1e-4)


def test_partner_must_be_a_mappable_armature(ext):
    bpy = ext
    reset()
    read_partner = ext_module("rig.read_partner")
    mesh = bpy.data.objects.new("Cube", bpy.data.meshes.new("Cube"))
    with pytest.raises(read_partner.PartnerError, match="'Cube' is a mesh, not an armature"):
        read_partner.partner_bone_map(mesh)
    arm = bpy.data.objects.new("Odd", bpy.data.armatures.new("Odd"))
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    for name in ("Hips", "Spine", "LeftUpLeg"):
        eb = arm.data.edit_bones.new(name)
        eb.tail = (0, 0, 0.1)
    bpy.ops.object.mode_set(mode="OBJECT")
    with pytest.raises(read_partner.PartnerError, match=r"partner 'Odd': no bone map fits.*misses.*LeftLeg"):
        read_partner.partner_bone_map(arm)
    with pytest.raises(read_partner.PartnerError, match="no partner armature"):
        read_partner.partner_bone_map(None)
