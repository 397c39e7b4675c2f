"""Loading a user-supplied SMPL-X model file through `smplx`.

The licensed file cannot be shipped, so the test writes a small synthetic file of the same format
(same keys, shapes and joint layout; vertices clustered around the template joints and rigidly
skinned to them, so posed vertices must follow our own forward kinematics).
"""
from __future__ import annotations

import numpy as np
import pytest

from inference_backend.body import PARENTS, RestSkeleton, forward_kinematics
from inference_backend.body.rotations import axis_angle_to_matrix
from inference_backend.body.skeleton import Y_UP_TO_Z_UP
from inference_backend.body.smplx_model import SmplxBody, SmplxModelError

NUM_VERTS = 10475  # SMPL-X's vertex count (smplx picks extra joints by vertex index)


def write_synthetic_smplx(path):
    rng = np.random.default_rng(0)
    joints_yup = RestSkeleton.template().positions @ Y_UP_TO_Z_UP  # Z-up -> Y-up is C^T
    owner = np.arange(NUM_VERTS) % 55
    v_template = joints_yup[owner] + rng.normal(scale=0.01, size=(NUM_VERTS, 3))
    regressor = np.zeros((55, NUM_VERTS))
    regressor[owner, np.arange(NUM_VERTS)] = 1.0
    regressor /= regressor.sum(1, keepdims=True)
    # Exactly the joints: remove each cluster's noise mean.
    v_template -= (regressor @ v_template - joints_yup)[owner]
    weights = np.zeros((NUM_VERTS, 55))
    weights[np.arange(NUM_VERTS), owner] = 1.0
    np.savez_compressed(
        path,
        v_template=v_template, f=rng.integers(0, NUM_VERTS, size=(200, 3)).astype(np.int32),
        J_regressor=regressor, weights=weights,
        kintree_table=np.stack([np.where(PARENTS < 0, 4294967295, PARENTS), np.arange(55)]).astype(np.int64),
        shapedirs=rng.normal(scale=1e-3, size=(NUM_VERTS, 3, 20)), posedirs=np.zeros((NUM_VERTS, 3, 486)),
        hands_componentsl=np.eye(45), hands_meanl=np.zeros(45), hands_componentsr=np.eye(45), hands_meanr=np.zeros(45),
        lmk_faces_idx=np.zeros(51, np.int64), lmk_bary_coords=np.full((51, 3), 1 / 3),
    )


@pytest.fixture(scope="module")
def body(tmp_path_factory):
    path = tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL.npz"
    write_synthetic_smplx(path)
    return SmplxBody(path)


def test_rest_skeleton_matches_file(body):
    np.testing.assert_allclose(body.rest_skeleton().positions, RestSkeleton.template().positions, atol=1e-5)


def test_posed_vertices_follow_our_fk(body):
    rng = np.random.default_rng(3)
    frames = 2
    aa = rng.normal(scale=0.4, size=(frames, 22, 3))
    transl = np.array([[0.5, -1.0, 0.9], [0.0, 0.2, 1.0]])
    verts = body.vertices(transl, aa[:, 0], aa[:, 1:].reshape(frames, -1))
    rest = body.rest_skeleton()
    _, joints = forward_kinematics(axis_angle_to_matrix(aa), rest.body_offsets, transl)
    # Each body joint's vertex cluster is rigidly attached: its mean sits on the joint.
    owner = np.arange(NUM_VERTS) % 55
    for j in range(22):
        np.testing.assert_allclose(verts[:, owner == j].mean(1), joints[:, j], atol=2e-3)


def test_bad_model_files(tmp_path):
    with pytest.raises(SmplxModelError, match="not found"):
        SmplxBody(tmp_path / "missing.npz")
    bad = tmp_path / "SMPLX_BAD.npz"
    np.savez(bad, v_template=np.zeros((3, 3)))
    with pytest.raises(SmplxModelError, match="not a usable SMPL-X model"):
        SmplxBody(bad)


def test_pickled_model_file_is_refused(tmp_path):
    evil = tmp_path / "SMPLX_EVIL.npz"
    np.savez(evil, v_template=np.array([object()], dtype=object))
    with pytest.raises(SmplxModelError, match="pickle"):
        SmplxBody(evil)
