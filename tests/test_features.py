"""Prior features: round trips, canonical frames, deltas, primitives (synthetic and real motions)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inference_backend.body import JOINT_INDEX, canonical_rest, forward_kinematics
from inference_backend.body.rotations import axis_angle_to_matrix
from inference_backend.models.features import (FEATURE_DIM, FEATURE_SLICES, HISTORY, PRIMITIVE, Frame,
                                               Normalizer, body_offsets, extract_primitives, features_to_motion,
                                               features_to_pose, motion_to_features, primitive_features,
                                               split_features, to_world)
from inference_backend.train.synthetic import synthetic_motion

REST = canonical_rest()
OFF = body_offsets(REST)


def _random_window(batch=3, frames=1 + PRIMITIVE, seed=0):
    g = torch.Generator().manual_seed(seed)
    rot = axis_angle_to_matrix(torch.randn(batch, frames, 22, 3, generator=g) * 0.4)
    transl = torch.randn(batch, frames, 3, generator=g) + torch.tensor([0.0, 0.0, 1.0])
    return transl, rot


def test_layout_is_contiguous_and_276_wide():
    spans = sorted((s.start, s.stop) for s in FEATURE_SLICES.values())
    assert spans[0][0] == 0 and spans[-1][1] == FEATURE_DIM == 276
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


def test_motion_feature_round_trip_synthetic():
    motion = synthetic_motion(3, seconds=2.0)
    feats = motion_to_features(motion, REST)
    assert feats.shape == (motion.num_frames, FEATURE_DIM)
    back = features_to_motion(feats)
    assert np.abs(back.transl - motion.transl).max() < 1e-4
    assert np.abs(back.rotations - motion.rotations).max() < 1e-4
    joints = split_features(torch.as_tensor(feats))["joints"].numpy()
    assert np.abs(joints - motion.joints(REST)).max() < 1e-4


@pytest.mark.data
def test_motion_feature_round_trip_real_cache(cache_dir):
    if not (cache_dir / "index.json").is_file():
        pytest.skip(f"no motion cache in {cache_dir}; build it with `python -m inference_backend.data build`")
    from inference_backend.data.dataset import load_motions

    motion = load_motions(cache_dir, "test")[0]
    back = features_to_motion(motion_to_features(motion, REST))
    assert np.abs(back.transl - motion.transl).max() < 1e-4
    assert np.abs(back.rotations - motion.rotations).max() < 1e-4


def test_deltas_are_backward_differences():
    transl, rot = _random_window()
    feats, _ = primitive_features(transl, rot, OFF)
    parts = split_features(feats)
    t_loc, r_loc, j_loc = features_to_pose(feats)
    assert torch.allclose(parts["transl_delta"][:, 1:], t_loc[:, 1:] - t_loc[:, :-1], atol=1e-5)
    assert torch.allclose(parts["joints_delta"][:, 1:], j_loc[:, 1:] - j_loc[:, :-1], atol=1e-5)
    # the first frame's deltas use the extra leading pose, not zero
    assert parts["transl_delta"][:, 0].abs().max() > 1e-3


def test_canonical_frame_of_first_history_frame():
    transl, rot = _random_window()
    feats, frame = primitive_features(transl, rot, OFF)
    parts = split_features(feats)
    first = parts["transl"][:, 0]
    assert torch.allclose(first[:, :2], torch.zeros(3, 2), atol=1e-5)        # pelvis xy at origin
    assert torch.allclose(first[:, 2], transl[:, 1, 2], atol=1e-5)            # height kept
    hips = parts["joints"][:, 0, JOINT_INDEX["left_hip"]] - parts["joints"][:, 0, JOINT_INDEX["right_hip"]]
    assert torch.allclose(hips[:, 1], torch.zeros(3), atol=1e-5) and (hips[:, 0] > 0).all()


def test_canonicalisation_is_invariant_to_world_placement():
    transl, rot = _random_window()
    angle = torch.tensor([0.3, -2.0, 3.0])
    c, s = torch.cos(angle), torch.sin(angle)
    rz = torch.zeros(3, 3, 3)
    rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = c, -s, s, c, 1
    shift = torch.tensor([[1.5, -7.0, 0.0], [0.0, 3.0, 0.0], [-20.0, 0.5, 0.0]])
    moved_t = (rz[:, None] @ transl[..., None])[..., 0] + shift[:, None]
    moved_r = rot.clone()
    moved_r[:, :, 0] = rz[:, None] @ rot[:, :, 0]
    a, _ = primitive_features(transl, rot, OFF)
    b, _ = primitive_features(moved_t, moved_r, OFF)
    assert torch.allclose(a, b, atol=1e-4)


def test_frame_maps_features_back_to_world():
    transl, rot = _random_window()
    feats, frame = primitive_features(transl, rot, OFF)
    t_loc, r_loc, j_loc = features_to_pose(feats)
    t_w, r_w = to_world(frame, t_loc, r_loc)
    assert torch.allclose(t_w, transl[:, 1:], atol=1e-5)
    assert torch.allclose(r_w, rot[:, 1:], atol=1e-5)
    world_joints = forward_kinematics(rot, OFF, transl)[1][:, 1:]
    assert torch.allclose(frame.points_to_world(j_loc), world_joints, atol=1e-5)
    local = frame.points_to_local(world_joints)
    assert torch.allclose(local, j_loc, atol=1e-5)


def test_frame_compose():
    a = Frame(axis_angle_to_matrix(torch.tensor([[0.0, 0.0, 0.7]])), torch.tensor([[1.0, 2.0, 0.0]]))
    b = Frame(axis_angle_to_matrix(torch.tensor([[0.0, 0.0, -0.2]])), torch.tensor([[0.5, 0.0, 0.0]]))
    p = torch.randn(1, 4, 3)
    assert torch.allclose(a.compose(b).points_to_world(p), a.points_to_world(b.points_to_world(p)), atol=1e-6)


def test_normalizer_round_trip_and_floor():
    x = torch.randn(100, 10, FEATURE_DIM)
    x[..., 5] = 1.0  # constant dimension: std floored, no division by zero
    norm = Normalizer.fit(x)
    assert torch.isfinite(norm.normalize(x)).all()
    assert torch.allclose(norm.denormalize(norm.normalize(x)), x, atol=1e-5)


def test_extract_primitives_overlapping_windows():
    motion = synthetic_motion(1, seconds=1.0)  # 30 frames
    feats, frame = extract_primitives(motion, REST, stride=2)
    expected = len(range(0, motion.num_frames - (1 + PRIMITIVE) + 1, 2))
    assert feats.shape == (expected, PRIMITIVE, FEATURE_DIM)
    # window i starts at pose 2i; its first history frame is pose 2i+1
    t_w, _ = to_world(frame, *features_to_pose(feats)[:2])
    assert np.allclose(t_w[1, 0].numpy(), motion.transl[2 + 1], atol=1e-5)
    assert HISTORY == 2 and PRIMITIVE == 10
