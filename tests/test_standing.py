"""The data's standing pose: the start of generation when the caller gives none."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inference_backend.body import JOINT_INDEX, canonical_rest, joint_positions
from inference_backend.body.rotations import axis_angle_to_matrix
from inference_backend.data.motion import Motion
from inference_backend.data.standing import face_minus_y, standing_pose
from inference_backend.models.prior import MotionPrior, prior_hash
from inference_backend.rollout import rest_start
from inference_backend.runtime import poses

from tests.tiny_prior import save_untrained_prior

J = JOINT_INDEX


def _pose() -> np.ndarray:
    """A left/right symmetric stance: pelvis tilted forward, spine bent back, knees bent."""
    aa = np.zeros((22, 3))
    aa[J["pelvis"]] = [0.1, 0.0, 0.0]
    aa[J["spine1"]] = [-0.3, 0.0, 0.0]
    aa[J["left_knee"]] = aa[J["right_knee"]] = [0.4, 0.0, 0.0]
    aa[J["left_shoulder"]], aa[J["right_shoulder"]] = [0.0, 1.2, 0.0], [0.0, -1.2, 0.0]
    return axis_angle_to_matrix(aa)


def _take(rng, frames=40) -> Motion:
    """Stands still in `_pose` (turned to a random heading) for half the take, then walks away
    in a different pose."""
    rot = np.repeat(_pose()[None], frames, axis=0)
    yaw = axis_angle_to_matrix(np.array([0.0, 0.0, rng.uniform(-np.pi, np.pi)]))
    rot[:, 0] = yaw @ rot[:, 0]
    rot[frames // 2:, J["left_knee"]] = axis_angle_to_matrix(np.array([1.2, 0.0, 0.0]))
    transl = np.zeros((frames, 3))
    transl[:, 2] = 0.95
    transl[frames // 2:, 0] = np.arange(frames - frames // 2) * 0.05     # 1.5 m/s
    return Motion("t", 30.0, transl.astype(np.float32), rot.astype(np.float32), "stand")


def test_standing_pose_is_the_still_upright_frames_without_heading():
    rng = np.random.default_rng(0)
    pose = standing_pose([_take(rng) for _ in range(4)])
    np.testing.assert_allclose(pose, _pose(), atol=1e-5)   # walking frames and headings left out


def test_face_minus_y_removes_only_the_heading():
    tilt = axis_angle_to_matrix(np.array([0.2, 0.0, 0.0]))
    turned = axis_angle_to_matrix(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -2.5]])) @ tilt
    np.testing.assert_allclose(face_minus_y(turned), np.stack([tilt, tilt]), atol=1e-6)


def test_standing_pose_needs_standing_frames():
    m = _take(np.random.default_rng(1))
    m.transl[:, 0] = np.arange(m.num_frames) * 0.05
    with pytest.raises(ValueError, match="stands still"):
        standing_pose([m])


@pytest.fixture(scope="module")
def prior_with_standing(tmp_path_factory):
    """A randomly initialised tiny prior saved with a standing pose, as `train export-prior` does."""
    return save_untrained_prior(tmp_path_factory.mktemp("prior"), standing=_pose())


def test_standing_pose_is_saved_with_the_prior_but_not_hashed(prior_with_standing):
    prior = MotionPrior.load(prior_with_standing)
    np.testing.assert_allclose(prior.standing.numpy(), _pose(), atol=1e-6)
    before = prior_hash(prior_with_standing)
    cfg = json.loads((prior_with_standing / "config.json").read_text())
    cfg.pop("standing_pose")
    (prior_with_standing / "config.json").write_text(json.dumps(cfg))
    assert prior_hash(prior_with_standing) == before and MotionPrior.load(prior_with_standing).standing is None


def test_prior_start_and_runtime_start_use_the_standing_pose(prior_with_standing):
    prior = MotionPrior.load(prior_with_standing)
    prior.standing = torch.as_tensor(_pose(), dtype=torch.float32)
    transl, rot = rest_start(prior, 2, facing=0.5)
    np.testing.assert_allclose(rot[0, 0, 1:].numpy(), _pose()[1:], atol=1e-6)
    turn = axis_angle_to_matrix(np.array([0.0, 0.0, 0.5]))
    np.testing.assert_allclose(rot[1, -1, 0].numpy(), turn @ _pose()[0], atol=1e-6)
    feet = joint_positions(rot[0, 0].double().numpy(), prior.offsets.double().numpy(), transl[0, 0].double().numpy())
    assert abs(feet[:, 2].min()) < 1e-5                                    # on the floor

    partner = canonical_rest().positions[:22].astype(np.float32) + np.array([0.0, 0.0, 0.95], np.float32)
    t, r = poses.default_start(partner, canonical_rest().body_offsets, prior.standing)
    np.testing.assert_allclose(r[J["left_knee"]], _pose()[J["left_knee"]], atol=1e-6)
    assert (r[0] @ np.array([0.0, -1.0, 0.0]))[1] > 0.95                   # still faces the partner (+y)
    own = joint_positions(r.astype(np.float64), canonical_rest().body_offsets, t.astype(np.float64))
    assert abs(own[:, 2].min() - partner[:, 2].min()) < 1e-4               # on the partner's floor
