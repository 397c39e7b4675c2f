"""Plain add-on modules (no bpy): the SMPL-X copy, bone maps, pose-channel maths."""
from __future__ import annotations

import json

import numpy as np
import pytest

from addon.rig import bonemaps, keys, layout, rotations, skeleton
from inference_backend.body import BODY_JOINT_NAMES, JOINT_NAMES, PARENTS, RestSkeleton, forward_kinematics
from inference_backend.body import rotations as backend_rot


def test_addon_skeleton_copy_equals_backend():
    assert skeleton.JOINT_NAMES == tuple(JOINT_NAMES)
    assert list(skeleton.PARENTS) == PARENTS.tolist()
    assert skeleton.BODY_JOINT_NAMES == tuple(BODY_JOINT_NAMES)


def test_rest_json_round_trip_and_errors(tmp_path):
    rest = RestSkeleton.template()
    path = tmp_path / "rest.json"
    path.write_text(json.dumps(rest.to_json()))
    offsets = skeleton.load_rest_offsets(path)
    np.testing.assert_allclose(offsets, rest.offsets, atol=1e-6)
    np.testing.assert_allclose(skeleton.rest_positions(offsets), rest.positions, atol=1e-6)
    assert skeleton.standing_rest_positions(offsets)[:22, 2].min() == pytest.approx(0.0)
    bad = rest.to_json()
    bad["offsets"] = bad["offsets"][:20]
    path.write_text(json.dumps(bad))
    with pytest.raises(skeleton.RestSkeletonError, match=r"rest.json: offsets must be"):
        skeleton.load_rest_offsets(path)
    with pytest.raises(skeleton.RestSkeletonError, match="not found"):
        skeleton.load_rest_offsets(tmp_path / "absent.json")


def test_rotations_match_backend():
    rng = np.random.default_rng(0)
    aa = rng.normal(size=(50, 3))
    m = rotations.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(m, backend_rot.axis_angle_to_matrix(aa), atol=1e-12)
    np.testing.assert_allclose(rotations.matrix_to_quat(m), backend_rot.matrix_to_quat(m), atol=1e-12)
    np.testing.assert_allclose(rotations.quat_to_matrix(rotations.matrix_to_quat(m)), m, atol=1e-12)
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    r = rotations.rotation_between(a, b)
    np.testing.assert_allclose((r @ a[..., None])[..., 0] / np.linalg.norm(a, axis=-1, keepdims=True),
                               b / np.linalg.norm(b, axis=-1, keepdims=True), atol=1e-9)


def test_quaternions_continuous_in_time():
    q = rotations.matrix_to_quat(rotations.axis_angle_to_matrix(np.linspace(0, 2 * np.pi - 0.1, 40)[:, None] * [0, 0, 1]))
    jumps = np.abs(np.diff(rotations.make_continuous(q), axis=0)).max()
    assert np.abs(np.diff(q, axis=0)).max() > 1.0  # the w >= 0 convention flips once
    assert jumps < 0.2


def test_pose_channels_reproduce_global_rotations():
    """Blender's chain G_j = G_p B_p^T B_j q_j with our quaternions equals SMPL's W_j B_j."""
    rest = RestSkeleton.template()
    heads = skeleton.standing_rest_positions(rest.offsets)[:22]
    bone_rest = layout.bone_axes(heads, layout.bone_tails(heads))
    rng = np.random.default_rng(1)
    aa = rng.normal(scale=0.6, size=(4, 22, 3))
    frames = {"global_orient": aa[:, 0], "body_pose": aa[:, 1:].reshape(4, 63), "transl": rng.normal(size=(4, 3))}
    local, transl = keys.local_rotations(frames)
    quats, loc = keys.pose_channels(local, transl, bone_rest, heads[0])
    q_mats = rotations.quat_to_matrix(quats)
    world, _ = forward_kinematics(local, rest.body_offsets, transl)
    for j in range(22):
        p = skeleton.PARENTS[j]
        if p < 0:
            g = bone_rest[j] @ q_mats[:, j]
        else:
            g_parent = world[:, p] @ bone_rest[p]
            g = g_parent @ bone_rest[p].T @ bone_rest[j] @ q_mats[:, j]
        np.testing.assert_allclose(g, world[:, j] @ bone_rest[j], atol=1e-9)
    np.testing.assert_allclose(heads[0] + loc @ bone_rest[0].T, transl, atol=1e-12)


def test_reaction_format_errors():
    with pytest.raises(keys.ReactionFormatError, match="lack 'transl'"):
        keys.local_rotations({"global_orient": np.zeros((2, 3)), "body_pose": np.zeros((2, 63))})
    with pytest.raises(keys.ReactionFormatError, match="disagree"):
        keys.local_rotations({"global_orient": np.zeros((2, 3)), "body_pose": np.zeros((2, 60)), "transl": np.zeros((2, 3))})
    bad = {"global_orient": np.full((1, 3), np.nan), "body_pose": np.zeros((1, 63)), "transl": np.zeros((1, 3))}
    with pytest.raises(keys.ReactionFormatError, match="NaN"):
        keys.local_rotations(bad)


CMU_NAMES = ("Hips LHipJoint LeftUpLeg LeftLeg LeftFoot LeftToeBase RHipJoint RightUpLeg RightLeg RightFoot "
             "RightToeBase LowerBack Spine Spine1 Neck Neck1 Head LeftShoulder LeftArm LeftForeArm LeftHand "
             "LeftFingerBase LeftHandIndex1 LThumb RightShoulder RightArm RightForeArm RightHand RightFingerBase "
             "RightHandIndex1 RThumb").split()
MIXAMO_NAMES = [f"mixamorig:{n}" for n in (
    "Hips Spine Spine1 Spine2 Neck Head HeadTop_End LeftShoulder LeftArm LeftForeArm LeftHand RightShoulder "
    "RightArm RightForeArm RightHand LeftUpLeg LeftLeg LeftFoot LeftToeBase RightUpLeg RightLeg RightFoot "
    "RightToeBase").split()]


@pytest.mark.parametrize("names, preset", [
    (CMU_NAMES, "CMU_BVH"),
    (MIXAMO_NAMES, "MIXAMO"),
    ([n.replace("mixamorig:", "mixamorig7:") for n in MIXAMO_NAMES], "MIXAMO"),
    (list(JOINT_NAMES), "SMPLX"),
    (["DEF-" + b for b in bonemaps.RIGIFY_META.bones.values()] + ["DEF-thigh.L.001", "root"], "RIGIFY_DEF"),
    (["ORG-" + b for b in bonemaps.RIGIFY_META.bones.values()] + ["MCH-x"], "RIGIFY_ORG"),
    (list(bonemaps.CC3.bones.values()) + ["CC_Base_Hip", "RL_BoneRoot"], "CC3"),
])
def test_detect_presets(names, preset):
    assert bonemaps.detect(names).name == preset
    bm = bonemaps.auto_resolve(names)
    assert set(bm.bones) == set(BODY_JOINT_NAMES)
    assert all(b in names for b in bm.position_bones())


def test_prefix_is_applied():
    bm = bonemaps.auto_resolve([n.replace("mixamorig:", "mixamorig7:") for n in MIXAMO_NAMES])
    assert bm.bones["left_wrist"] == "mixamorig7:LeftHand"


def test_missing_bones_are_named():
    names = [n for n in CMU_NAMES if n not in ("LeftForeArm", "Neck1")]
    with pytest.raises(bonemaps.BoneMapError, match=r"closest is CMU BVH.*LeftForeArm.*Neck1|Neck1.*LeftForeArm"):
        bonemaps.detect(names)
    with pytest.raises(bonemaps.BoneMapError, match=r"missing bones mixamorig:Spine2"):
        bonemaps.resolve("MIXAMO", [n for n in MIXAMO_NAMES if not n.endswith("Spine2")])
    with pytest.raises(bonemaps.BoneMapError, match="unknown bone map preset 'Nope'"):
        bonemaps.resolve("Nope", MIXAMO_NAMES)


def test_frames_from_pose_inverts_pose_channels():
    rest = RestSkeleton.template()
    heads = skeleton.standing_rest_positions(rest.offsets)[:22]
    bone_rest = layout.bone_axes(heads, layout.bone_tails(heads))
    rng = np.random.default_rng(2)
    aa = rng.normal(scale=0.5, size=(3, 22, 3))
    frames = {"global_orient": aa[:, 0], "body_pose": aa[:, 1:].reshape(3, 63), "transl": rng.normal(size=(3, 3))}
    world = np.eye(4)
    world[:3, :3] = rotations.axis_angle_to_matrix(np.array([0.1, 0.2, 0.3])) * 2.0
    world[:3, 3] = [1, 2, 3]
    local, transl = keys.local_rotations(frames)
    quats, loc = keys.pose_channels(local, transl, bone_rest, heads[0], world)
    back = keys.frames_from_pose(quats, loc, bone_rest, heads[0], world)
    np.testing.assert_allclose(back["transl"], frames["transl"], atol=1e-9)
    local_back, _ = keys.local_rotations(back)
    np.testing.assert_allclose(local_back, local, atol=1e-9)
