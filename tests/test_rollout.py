"""Rollout and the generate CLI on a tiny prior folder (and, marked slow, the shipped prior)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inference_backend.body.rotations import axis_angle_to_matrix
from inference_backend.models.features import FPS, HISTORY
from inference_backend.models.prior import PRIOR_DIR, MotionPrior, prior_hash
from inference_backend.rollout import rest_start, rollout, start_from_motion

from tests.tiny_prior import save_untrained_prior


@pytest.fixture(scope="module")
def tiny_prior_dir(tmp_path_factory):
    """A randomly initialised (untrained) tiny prior, saved like a real one."""
    return save_untrained_prior(tmp_path_factory.mktemp("prior"))


@pytest.fixture(scope="module")
def tiny_prior(tiny_prior_dir):
    return MotionPrior.load(tiny_prior_dir)


def test_rollout_deterministic_for_a_seed_and_finite(tiny_prior):
    prompts = ["walk forward", "run"]
    a = rollout(tiny_prior, prompts, seconds=1.0, seed=3)
    b = rollout(tiny_prior, prompts, seconds=1.0, seed=3)
    c = rollout(tiny_prior, prompts, seconds=1.0, seed=4)
    assert a.transl.shape == (2, 30, 3) and a.rotations.shape == (2, 30, 22, 3, 3) and a.joints.shape == (2, 30, 22, 3)
    assert np.array_equal(a.joints, b.joints)
    assert not np.array_equal(a.joints, c.joints)
    assert np.isfinite(a.joints).all() and np.isfinite(a.rotations).all()
    # rotations stay rotations (6D -> Gram-Schmidt)
    r = a.rotations.reshape(-1, 3, 3)
    assert np.allclose(r @ r.transpose(0, 2, 1), np.eye(3), atol=1e-4)


def test_rollout_starts_from_the_given_pose_and_follows_a_timeline(tiny_prior):
    transl, rot = rest_start(tiny_prior, 1, facing=1.0)
    transl = transl + torch.tensor([2.0, -1.0, 0.0])
    out = rollout(tiny_prior, [[("walk", 0.5), ("turn left", 0.5)]], seconds=1.0, seed=0, start=(transl, rot))
    assert np.allclose(out.transl[0, :HISTORY], transl[0, 1:].numpy(), atol=1e-6)
    assert np.allclose(out.rotations[0, :HISTORY], rot[0, 1:].numpy(), atol=1e-6)


def test_start_from_short_motion_is_padded():
    transl = np.zeros((1, 3), np.float32)
    rot = axis_angle_to_matrix(np.zeros((1, 22, 3))).astype(np.float32)
    t, r = start_from_motion(transl, rot)
    assert t.shape == (1 + HISTORY, 3) and r.shape == (1 + HISTORY, 22, 3, 3)
    with pytest.raises(ValueError, match="rotations"):
        start_from_motion(transl, rot[:, :5])


def test_rollout_rejects_bad_length(tiny_prior):
    with pytest.raises(ValueError, match="seconds"):
        rollout(tiny_prior, ["walk"], seconds=0)


def test_generate_cli_writes_smplx_parameters(tiny_prior_dir, tmp_path):
    from inference_backend.body.rotations import axis_angle_to_matrix as aa2m
    from inference_backend.generate import main

    out = tmp_path / "x.npz"
    assert main(["--text", "walk forward", "--seconds", "1", "--out", str(out), "--prior", str(tiny_prior_dir),
                 "--seed", "5"]) == 0
    with np.load(out, allow_pickle=False) as z:
        assert z["transl"].shape == (30, 3) and z["global_orient"].shape == (30, 3)
        assert z["body_pose"].shape == (30, 21, 3) and z["joints"].shape == (30, 22, 3)
        assert float(z["fps"]) == FPS and str(z["text"]) == "walk forward"
        # axis-angle parameters reproduce the joints through FK
        from inference_backend.body import forward_kinematics

        rot = aa2m(np.concatenate([z["global_orient"][:, None], z["body_pose"]], 1).astype(np.float64))
        prior = MotionPrior.load(tiny_prior_dir)
        joints = forward_kinematics(rot, prior.offsets.double().numpy(), z["transl"].astype(np.float64))[1]
        assert np.abs(joints - z["joints"]).max() < 1e-3


def test_prior_hash_is_stable(tiny_prior_dir):
    assert prior_hash(tiny_prior_dir) == prior_hash(tiny_prior_dir)


@pytest.mark.slow
def test_shipped_prior_walks_without_nan():
    if not (PRIOR_DIR / "config.json").is_file():
        pytest.skip("no shipped prior in assets/prior")
    prior = MotionPrior.load(PRIOR_DIR)
    out = rollout(prior, ["walk"], seconds=10.0, seed=0)
    assert np.isfinite(out.joints).all()
    pelvis_z = out.transl[0, :, 2]
    assert 0.5 < pelvis_z.min() and pelvis_z.max() < 1.3
    travelled = np.linalg.norm(out.transl[0, -1, :2] - out.transl[0, 0, :2])
    assert travelled > 2.0  # a walk goes somewhere
