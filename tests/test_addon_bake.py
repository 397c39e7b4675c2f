"""Baking a reaction onto an existing rig with other names, rest pose, rolls and object
transform (a Mixamo-like rig in A-pose, Y-up centimetres under a 90° X / 0.01 scale object, as
Blender's FBX importer leaves Mixamo characters)."""
from __future__ import annotations

import numpy as np
import pytest

from inference_backend.body import RestSkeleton
from inference_backend.body.rotations import axis_angle_to_matrix
from tests.blender_env import bpy_and_extension, ext_module, needs_bpy, reset

pytestmark = [pytest.mark.bpy, needs_bpy]


@pytest.fixture(scope="module")
def ext():
    return bpy_and_extension()[0]


def _a_pose(positions, names):
    """Swing both arms 40 degrees down about the shoulder joints (positions of the 22 joints)."""
    out = positions.copy()
    for side, sign in (("left", 1.0), ("right", -1.0)):
        pivot = positions[names.index(f"{side}_shoulder")]
        rot = axis_angle_to_matrix(np.array([0.0, -sign * np.radians(40), 0.0]))
        for joint in (f"{side}_elbow", f"{side}_wrist"):
            j = names.index(joint)
            out[j] = pivot + rot @ (positions[j] - pivot)
    return out


def build_mixamo_like(bpy, rest_world, names, bonemaps):
    reset()
    mixamo = bonemaps.resolve("MIXAMO", ["mixamorig:" + b for b in bonemaps.MIXAMO.bones.values()]).bones
    parents = ext_module("rig.skeleton").BODY_PARENTS
    arm = bpy.data.armatures.new("Mixamo")
    obj = bpy.data.objects.new("Mixamo", arm)
    bpy.context.scene.collection.objects.link(obj)
    obj.rotation_euler = (np.pi / 2, 0.0, 0.0)
    obj.scale = (0.01, 0.01, 0.01)
    bpy.context.view_layer.update()
    to_arm = np.linalg.inv(np.array(obj.matrix_world))
    heads = rest_world @ to_arm[:3, :3].T + to_arm[:3, 3]
    rng = np.random.default_rng(0)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    ebs = []
    kids = {p: j for j, p in reversed(list(enumerate(parents))) if p >= 0}
    for j, name in enumerate(names):
        eb = arm.edit_bones.new(mixamo[name])
        eb.head = heads[j].tolist()
        child = {"pelvis": 3, "spine3": 12}.get(name, kids.get(j))
        tail = heads[child] if child is not None else heads[j] + (heads[j] - heads[parents[j]]) * 0.5
        eb.tail = tail.tolist()
        eb.roll = float(rng.uniform(-np.pi, np.pi))  # arbitrary rolls
        if parents[j] >= 0:
            eb.parent = ebs[parents[j]]
        ebs.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    for pb in obj.pose.bones:  # FBX imports key Euler rotations
        pb.rotation_mode = "XYZ"
    return obj, mixamo


def test_bake_matches_reaction_directions_and_twist(ext):
    bpy = ext
    skeleton = ext_module("rig.skeleton")
    bonemaps = ext_module("rig.bonemaps")
    bake = ext_module("rig.bake")
    retarget = ext_module("rig.retarget")
    keys = ext_module("rig.keys")
    names = list(skeleton.BODY_JOINT_NAMES)
    rest = RestSkeleton.template()
    smpl_rest = skeleton.standing_rest_positions(rest.offsets)[:22]
    target_rest = _a_pose(smpl_rest * 1.1, names)  # 10 % taller, arms down
    obj, mixamo = build_mixamo_like(bpy, target_rest, names, bonemaps)
    rng = np.random.default_rng(4)
    frames = 5
    aa = rng.normal(scale=0.4, size=(frames, 22, 3))
    reaction = {"global_orient": aa[:, 0], "body_pose": aa[:, 1:].reshape(frames, 63),
                "transl": np.array([0.5, 0.2, 0.9]) + rng.normal(scale=0.05, size=(frames, 3))}
    action = bake.bake_reaction(obj, reaction, rest.offsets, frame_start=1, intent="bow")
    assert action.name == "ReMoGen bow 1"
    local, transl = keys.local_rotations(reaction)
    world_rot, positions = retarget.global_rotations(local, rest.body_offsets, transl)
    for t in range(frames):
        bpy.context.scene.frame_set(1 + t)
        ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        mw = np.array(ev.matrix_world)
        heads = np.array([ev.pose.bones[mixamo[n]].head for n in names]) @ mw[:3, :3].T + mw[:3, 3]
        for j, name in enumerate(names):
            child = retarget.DIRECTION_CHILD[name]
            if child is None:
                continue
            c = names.index(child)
            got = heads[c] - heads[j]
            want = positions[t, c] - positions[t, j]
            cos = got @ want / np.linalg.norm(got) / np.linalg.norm(want)
            assert cos > np.cos(np.radians(0.5)), (name, t)
        # height scaled by the rigs' pelvis ratio, horizontal position exact
        np.testing.assert_allclose(heads[0, :2], transl[t, :2], atol=1e-4)
        np.testing.assert_allclose(heads[0, 2], transl[t, 2] * 1.1, atol=1e-4)
        # twist: the pelvis bone's full world rotation follows the reaction's pelvis rotation
        pelvis = ev.pose.bones[mixamo["pelvis"]]
        posed = (mw[:3, :3] @ np.array(pelvis.matrix)[:3, :3])
        rest_w = mw[:3, :3] @ np.array(obj.data.bones[mixamo["pelvis"]].matrix_local)[:3, :3]
        delta = posed @ np.linalg.inv(rest_w)
        np.testing.assert_allclose(delta, world_rot[t, 0], atol=1e-4)


def test_bake_names_missing_bones(ext):
    bpy = ext
    reset()
    bake = ext_module("rig.bake")
    arm = bpy.data.objects.new("Stick", bpy.data.armatures.new("Stick"))
    bpy.context.scene.collection.objects.link(arm)
    with pytest.raises(bake.BakeError, match=r"target 'Stick': no bone map fits"):
        bake.bake_reaction(arm, {}, RestSkeleton.template().offsets, 1, "x")
