"""The created SMPL-X rig and keyframe writing, with the real bpy module.

The key check: reaction rotations keyed on the rig reproduce, in Blender's evaluated pose, the
joint positions of our numpy forward kinematics (`inference_backend.body.fk`) within 1 mm.
"""
from __future__ import annotations

import numpy as np
import pytest

from inference_backend.body import RestSkeleton, joint_positions
from inference_backend.body.rotations import axis_angle_to_matrix
from tests.blender_env import bpy_and_extension, ext_module, needs_bpy, reset

pytestmark = [pytest.mark.bpy, needs_bpy]


@pytest.fixture(scope="module")
def ext():
    bpy, module = bpy_and_extension()
    return bpy


@pytest.fixture()
def rest():
    return RestSkeleton.template()


@pytest.fixture()
def rig(ext, rest):
    reset()
    return ext_module("rig.create_rig").create_smplx_rig(rest.offsets, name="Reaction")


def _evaluated_heads(bpy, obj, names, frame):
    bpy.context.scene.frame_set(frame)
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mw = np.array(ev.matrix_world)
    heads = np.array([ev.pose.bones[n].head for n in names])
    return heads @ mw[:3, :3].T + mw[:3, 3]


def test_rig_bones_sit_on_rest_joints_with_documented_axes(rig, rest):
    layout = ext_module("rig.layout")
    skeleton = ext_module("rig.skeleton")
    bones = rig.data.bones
    assert sorted(b.name for b in bones) == sorted(skeleton.JOINT_NAMES)
    standing = rest.positions + np.array([0.0, 0.0, rest.pelvis_height])
    heads = np.array([bones[n].head_local for n in skeleton.JOINT_NAMES])
    np.testing.assert_allclose(heads, standing, atol=1e-5)
    assert bones["left_hip"].parent.name == "pelvis"
    rots, _ = ext_module("rig.create_rig").bone_rest(rig, skeleton.JOINT_NAMES)
    expected = layout.bone_axes(standing, layout.bone_tails(standing))
    np.testing.assert_allclose(rots, expected, atol=1e-5)
    # The spine points up with Z to the front; the left upper arm points to +X (body's left).
    np.testing.assert_allclose(rots[skeleton.JOINT_INDEX["spine2"]][:, 2] @ [0, -1, 0], 1.0, atol=0.05)
    assert rots[skeleton.JOINT_INDEX["left_shoulder"]][:, 1] @ [1, 0, 0] > 0.95


def _random_reaction(frames, seed):
    rng = np.random.default_rng(seed)
    aa = rng.normal(scale=0.5, size=(frames, 22, 3))
    transl = np.array([0.3, -0.2, 0.9]) + rng.normal(scale=0.2, size=(frames, 3))
    return {"global_orient": aa[:, 0], "body_pose": aa[:, 1:].reshape(frames, 63), "transl": transl}


def _write(rig, reaction, intent="wave", frame_start=1, replace=False):
    keys = ext_module("rig.keys")
    skeleton = ext_module("rig.skeleton")
    write_keys = ext_module("rig.write_keys")
    names = skeleton.BODY_JOINT_NAMES
    rots, heads = ext_module("rig.create_rig").bone_rest(rig, names)
    local, transl = keys.local_rotations(reaction)
    quats, loc = keys.pose_channels(local, transl, rots, heads[0], np.array(rig.matrix_world))
    return write_keys.write_pose_action(rig, names, quats, loc, frame_start, write_keys.next_action_name(intent), replace=replace)


@pytest.mark.parametrize("moved", [False, True])
def test_keyed_rotations_match_numpy_fk(ext, rig, rest, moved):
    bpy = ext
    if moved:  # an armature object placed elsewhere in the scene must give the same world pose
        rig.location = (1.0, -2.0, 0.5)
        rig.rotation_euler = (0.0, 0.0, 0.7)
        rig.scale = (1.3, 1.3, 1.3)
        bpy.context.view_layer.update()
    frames = 6
    reaction = _random_reaction(frames, seed=3 + moved)
    action = _write(rig, reaction, frame_start=10)
    aa = np.concatenate([reaction["global_orient"][:, None], reaction["body_pose"].reshape(frames, 21, 3)], 1)
    names = ext_module("rig.skeleton").BODY_JOINT_NAMES
    # Blender's rig is built from the standing rest; FK with that rest gives the same joints.
    expected = joint_positions(axis_angle_to_matrix(aa), rest.body_offsets, reaction["transl"])
    for t in range(frames):
        got = _evaluated_heads(bpy, rig, names, 10 + t)
        if moved:  # the root still lands on transl and the body keeps its world orientation,
            # only the object's scale changes its size
            want = expected[t]
            np.testing.assert_allclose(got[0], reaction["transl"][t], atol=1e-3)
            np.testing.assert_allclose(got - got[0], (want - want[0]) * 1.3, atol=1.3e-3)
        else:
            np.testing.assert_allclose(got, expected[t], atol=1e-3)
    assert action.name == "ReMoGen wave 1"


def test_every_body_bone_keyed_on_every_frame_with_bulk_api(ext, rig):
    reaction = _random_reaction(40, seed=5)
    action = _write(rig, reaction, frame_start=1)
    slot = rig.animation_data.action_slot
    bag = action.layers[0].strips[0].channelbag(slot) if hasattr(action, "layers") else action
    names = ext_module("rig.skeleton").BODY_JOINT_NAMES
    paths = {(fc.data_path, fc.array_index): fc for fc in bag.fcurves}
    for name in names:
        for i in range(4):
            fc = paths[(f'pose.bones["{name}"].rotation_quaternion', i)]
            assert len(fc.keyframe_points) == 40
            assert fc.keyframe_points[0].co[0] == 1 and fc.keyframe_points[-1].co[0] == 40
    assert len([p for p in paths if p[0].endswith(".location")]) == 3


def test_existing_action_untouched_and_each_generation_new(ext, rig):
    bpy = ext
    rig.pose.bones["left_elbow"].rotation_quaternion = (0.9, 0.1, 0.0, 0.0)
    rig.pose.bones["left_elbow"].keyframe_insert("rotation_quaternion", frame=1)
    user_action = rig.animation_data.action
    user_action.name = "Hand keyed"
    before = [tuple(k.co) for fc in bpy.data.actions["Hand keyed"].layers[0].strips[0].channelbags[0].fcurves for k in fc.keyframe_points]
    first = _write(rig, _random_reaction(5, seed=1))
    second = _write(rig, _random_reaction(5, seed=2))
    assert first != second and first.name == "ReMoGen wave 1" and second.name == "ReMoGen wave 2"
    assert rig.animation_data.action == second
    after = [tuple(k.co) for fc in bpy.data.actions["Hand keyed"].layers[0].strips[0].channelbags[0].fcurves for k in fc.keyframe_points]
    assert before == after and len(before) == 4
    assert bpy.data.actions["Hand keyed"].use_fake_user  # survives saving without a user
    quat_first = [fc.keyframe_points[0].co[1] for fc in first.layers[0].strips[0].channelbags[0].fcurves]
    assert len(quat_first) == 22 * 4 + 3


def test_replace_rewrites_the_assigned_action(ext, rig):
    first = _write(rig, _random_reaction(5, seed=1))
    again = _write(rig, _random_reaction(8, seed=2), replace=True)
    assert again == first
    fc = first.layers[0].strips[0].channelbags[0].fcurves[0]
    assert len(fc.keyframe_points) == 8


def test_bulk_write_is_fast(ext, rig):
    import time

    reaction = _random_reaction(300, seed=9)
    start = time.perf_counter()
    _write(rig, reaction)
    assert time.perf_counter() - start < 2.0
