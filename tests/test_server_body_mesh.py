"""The `body_mesh` verb through a real server process on loopback and the add-on's client: the
skinned rest mesh of a user's SMPL-X model file (the synthetic file of test_smplx_model), and
typed errors naming the file when it is missing, pickled or not an SMPL-X model."""
from __future__ import annotations

import numpy as np
import pytest

from addon.client import BackendError
from inference_backend.body import PARENTS
from tests.server_helpers import launch
from tests.test_smplx_model import NUM_VERTS, write_synthetic_smplx


@pytest.fixture(scope="module")
def client():
    process = launch()
    c = process.connect()
    yield c
    c.close()
    process.stop()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL.npz"
    write_synthetic_smplx(path)
    return path


def test_body_mesh_is_the_rest_mesh_on_the_files_skeleton(client, model_file):
    from inference_backend.body.smplx_model import SmplxBody

    mesh = client.body_mesh(str(model_file))
    verts, faces, weights, offsets = mesh["vertices"], mesh["faces"], mesh["weights"], mesh["rest_offsets"]
    assert verts.shape == (NUM_VERTS, 3) and verts.dtype == np.float32
    assert faces.shape == (200, 3) and faces.dtype == np.int32 and 0 <= faces.min() and faces.max() < NUM_VERTS
    assert weights.shape == (NUM_VERTS, 55)
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-5)
    exact = SmplxBody(model_file).rest_skeleton()
    np.testing.assert_allclose(offsets, exact.offsets, atol=1e-6)
    # each joint's vertex cluster (rigidly skinned to it) is centred on that joint of the rest
    # skeleton, pelvis at the origin, Z up
    positions = np.zeros((55, 3))
    for j, p in enumerate(PARENTS):
        positions[j] = offsets[j] + (positions[p] if p >= 0 else 0.0)
    owner = weights.argmax(1)
    assert (owner == np.arange(NUM_VERTS) % 55).all()
    centres = np.array([verts[owner == j].mean(0) for j in range(55)])
    np.testing.assert_allclose(centres, positions, atol=2e-3)
    assert abs(centres[0]).max() < 2e-3 and centres[15, 2] > 0.3  # head above the pelvis: Z up


def test_body_mesh_errors_name_the_file(client, tmp_path):
    missing = tmp_path / "nowhere" / "SMPLX_NEUTRAL.npz"
    with pytest.raises(BackendError, match=r"not found: .*nowhere") as info:
        client.body_mesh(str(missing))
    assert info.value.type == "bad_request"
    wrong = tmp_path / "SMPLX_NEUTRAL.pkl"
    wrong.write_bytes(b"not a model")
    with pytest.raises(BackendError, match=r"SMPLX_NEUTRAL\.pkl: expected an SMPL-X \.npz"):
        client.body_mesh(str(wrong))
    not_smplx = tmp_path / "other.npz"
    np.savez(not_smplx, v_template=np.zeros((3, 3)))
    with pytest.raises(BackendError, match=r"other\.npz: not a usable SMPL-X model"):
        client.body_mesh(str(not_smplx))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, v_template=np.array([{"code": 1}], dtype=object))
    with pytest.raises(BackendError, match=r"pickled\.npz: holds Python objects"):
        client.body_mesh(str(pickled))
    with pytest.raises(BackendError, match="model_path' is empty"):
        client.body_mesh("  ")
    assert client.hello()["server"] == "remogen"  # the connection is still usable
