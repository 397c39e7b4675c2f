"""The SMPL-X body: tree, rest skeleton, rotation conversions (property tests) and FK."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from inference_backend.body import (
    BODY_JOINT_NAMES,
    JOINT_NAMES,
    MIRROR_INDEX,
    PARENTS,
    RestSkeleton,
    forward_kinematics,
)
from inference_backend.body import rotations as R

finite = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False, width=64)
rotvecs = arrays(np.float64, (4, 3), elements=finite)


def test_tree_is_smplx():
    assert len(JOINT_NAMES) == 55 and len(set(JOINT_NAMES)) == 55
    assert BODY_JOINT_NAMES[0] == "pelvis" and BODY_JOINT_NAMES[-1] == "right_wrist"
    assert PARENTS[0] == -1 and all(0 <= p < j for j, p in enumerate(PARENTS) if j)
    assert JOINT_NAMES[PARENTS[JOINT_NAMES.index("left_elbow")]] == "left_shoulder"
    assert JOINT_NAMES[MIRROR_INDEX[JOINT_NAMES.index("left_wrist")]] == "right_wrist"
    assert (MIRROR_INDEX[MIRROR_INDEX] == np.arange(55)).all()


def test_template_rest_pose_is_upright_tpose_facing_minus_y():
    pos = RestSkeleton.template().positions
    j = {n: pos[i] for i, n in enumerate(JOINT_NAMES)}
    assert j["head"][2] > j["neck"][2] > j["pelvis"][2] > j["left_knee"][2] > j["left_ankle"][2]
    assert j["left_hip"][0] > 0 > j["right_hip"][0]  # left is +X
    assert j["left_wrist"][0] > 0.5 and abs(j["left_wrist"][2] - j["left_shoulder"][2]) < 0.05  # T-pose
    assert j["left_foot"][1] < j["left_ankle"][1]  # toes point forward, i.e. -Y


def test_rest_skeleton_measured_lengths_and_json_round_trip(tmp_path):
    rest = RestSkeleton.from_bone_lengths({"left_knee": 0.45, "left_elbow": 0.30})
    lengths = np.linalg.norm(rest.offsets, axis=1)
    assert lengths[JOINT_NAMES.index("left_knee")] == pytest.approx(0.45)
    assert lengths[JOINT_NAMES.index("left_elbow")] == pytest.approx(0.30)
    rest.save(tmp_path / "rest.json")
    again = RestSkeleton.load(tmp_path / "rest.json")
    np.testing.assert_allclose(again.offsets, rest.offsets, atol=1e-6)
    bad = rest.to_json()
    bad["offsets"][3][0] = float("nan")
    with pytest.raises(ValueError):
        RestSkeleton.from_json(bad)


@settings(max_examples=60, deadline=None)
@given(rotvecs)
def test_axis_angle_matrix_quat_round_trips(aa):
    m = R.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-9)
    q = R.matrix_to_quat(m)
    np.testing.assert_allclose(R.quat_to_matrix(q), m, atol=1e-9)
    np.testing.assert_allclose(R.axis_angle_to_matrix(R.matrix_to_axis_angle(m)), m, atol=1e-7)
    np.testing.assert_allclose(R.quat_to_matrix(R.axis_angle_to_quat(aa)), m, atol=1e-9)
    np.testing.assert_allclose(R.sixd_to_matrix(R.matrix_to_6d(m)), m, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(rotvecs)
def test_torch_matches_numpy(aa):
    m_np = R.axis_angle_to_matrix(aa)
    m_t = R.axis_angle_to_matrix(torch.as_tensor(aa))
    np.testing.assert_allclose(m_t.numpy(), m_np, atol=1e-9)
    np.testing.assert_allclose(R.matrix_to_quat(m_t).numpy(), R.matrix_to_quat(m_np), atol=1e-9)
    np.testing.assert_allclose(R.matrix_to_6d(m_t).numpy(), R.matrix_to_6d(m_np), atol=1e-12)
    np.testing.assert_allclose(R.matrix_to_axis_angle(m_t).numpy(), R.matrix_to_axis_angle(m_np), atol=1e-7)


def test_batch_shapes_and_edge_angles():
    aa = np.zeros((2, 5, 3))
    aa[0, 0] = [np.pi, 0, 0]  # half turn: quaternion w = 0 branch
    aa[0, 1] = [0, 1e-9, 0]  # tiny angle: series branch
    aa[1, 2] = [0, 0, -np.pi + 1e-6]
    m = R.axis_angle_to_matrix(aa)
    assert m.shape == (2, 5, 3, 3) and R.matrix_to_6d(m).shape == (2, 5, 6) and R.matrix_to_quat(m).shape == (2, 5, 4)
    np.testing.assert_allclose(R.axis_angle_to_matrix(R.matrix_to_axis_angle(m)), m, atol=1e-6)
    sixd = np.random.default_rng(0).normal(size=(7, 6))  # any 6D input maps to a rotation
    mm = R.sixd_to_matrix(sixd)
    np.testing.assert_allclose(np.linalg.det(mm), 1.0, atol=1e-9)


def test_rotation_between_and_angle():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    b[0] = -a[0]  # opposite vectors
    rot = R.rotation_between(a, b)
    out = (rot @ a[..., None])[..., 0]
    np.testing.assert_allclose(R.angle_between(out, b), 0.0, atol=1e-6)


def test_fk_rest_and_known_pose_numpy_and_torch():
    rest = RestSkeleton.template()
    offsets = rest.body_offsets
    rots = np.broadcast_to(np.eye(3), (3, 22, 3, 3)).copy()
    root = np.array([[0.0, 0.0, 1.0]] * 3)
    _, pos = forward_kinematics(rots, offsets, root)
    np.testing.assert_allclose(pos[0], rest.positions[:22] + root[0], atol=1e-12)
    # Bend the left elbow 90 degrees about +Z: the wrist swings from +X toward +Y.
    elbow, wrist = BODY_JOINT_NAMES.index("left_elbow"), BODY_JOINT_NAMES.index("left_wrist")
    rots[1, elbow] = R.axis_angle_to_matrix(np.array([0, 0, np.pi / 2]))
    _, pos = forward_kinematics(rots, offsets, root)
    forearm = pos[1, wrist] - pos[1, elbow]
    expected = R.axis_angle_to_matrix(np.array([0, 0, np.pi / 2])) @ offsets[wrist]
    np.testing.assert_allclose(forearm, expected, atol=1e-12)
    g_t, pos_t = forward_kinematics(torch.as_tensor(rots), offsets, torch.as_tensor(root))
    np.testing.assert_allclose(pos_t.numpy(), pos, atol=1e-10)
    assert g_t.shape == (3, 22, 3, 3)


def test_rest_skeletons_are_mirror_symmetric():
    """Mirroring augmentation is exact only on a left/right symmetric skeleton."""
    from inference_backend.body import canonical_rest

    for rest in (RestSkeleton.template(), canonical_rest()):
        np.testing.assert_allclose(rest.offsets, rest.offsets[MIRROR_INDEX] * [-1.0, 1.0, 1.0], atol=1e-6)
