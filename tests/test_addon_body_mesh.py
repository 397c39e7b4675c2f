"""The SMPL-X body mesh on a created rig, from a user's model file (here the synthetic file of
test_smplx_model, scaled by 1.1 so its exact skeleton differs from the shipped one), through the
headless command with a real backend process (the real runtime: trained prior when shipped,
else the tiny random prior).

The synthetic file skins each vertex rigidly to one joint and centres each joint's vertex
cluster on that joint, so on every frame the evaluated mesh's clusters must sit on the
evaluated bone heads: the skinning, the vertex groups and the file's exact skeleton all agree.
"""
from __future__ import annotations

import numpy as np
import pytest

from addon.cli import run_cli
from inference_backend.body.smplx_model import SmplxBody
from tests.addon_shot import BACKEND, datablocks, shot_file, world_heads
from tests.blender_env import ext_module
from tests.test_smplx_model import NUM_VERTS, write_synthetic_smplx

pytestmark = [pytest.mark.bpy, pytest.mark.data]
SCALE = 1.1


@pytest.fixture(scope="module")
def shot(data_dir, tmp_path_factory):
    return shot_file(data_dir, tmp_path_factory.mktemp("body"))[1]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smplx")
    write_synthetic_smplx(folder / "base.npz")
    with np.load(folder / "base.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["v_template"] = arrays["v_template"] * SCALE  # joints come from a linear regressor: scaled too
    path = folder / "SMPLX_NEUTRAL.npz"
    np.savez_compressed(path, **arrays)
    return path


def test_created_rig_gets_the_skinned_body(shot, model_file, tmp_path, capsys):
    import bpy

    skeleton = ext_module("rig.skeleton")
    bpy.ops.wm.open_mainfile(filepath=str(shot))
    out = tmp_path / "body.blend"
    code = run_cli(["generate", "--partner", "18_01", "--intent", "waves", "--frames", "1-12", "--out", str(out),
                    "--smplx-model", str(model_file), *BACKEND])
    assert code == 0, capsys.readouterr().err
    rig = bpy.data.objects["ReMoGen waves"]
    body = [o for o in bpy.data.objects if o.type == "MESH" and o.parent == rig]
    assert len(body) == 1
    body = body[0]
    assert len(body.data.vertices) == NUM_VERTS and len(body.data.polygons) > 0
    assert [g.name for g in body.vertex_groups] == list(skeleton.JOINT_NAMES)
    assert [(m.type, m.object) for m in body.modifiers] == [("ARMATURE", rig)]

    # the rig is the file's exact skeleton (1.1 x the template), standing on the floor
    exact = SmplxBody(model_file).rest_skeleton().offsets
    want = skeleton.standing_rest_positions(exact)
    heads = np.array([rig.data.bones[n].head_local for n in skeleton.JOINT_NAMES])
    np.testing.assert_allclose(heads, want, atol=1e-4)
    shipped = skeleton.load_rest_offsets(skeleton.find_rest_skeleton())
    assert np.abs(skeleton.rest_positions(shipped) - skeleton.rest_positions(exact)).max() > 0.02

    owner = np.arange(NUM_VERTS) % 55
    frames = range(1, 13)
    joints = world_heads(bpy, rig, list(skeleton.JOINT_NAMES), frames)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    moved = 0.0
    for t, frame in enumerate(frames):
        bpy.context.scene.frame_set(frame)
        ev = body.evaluated_get(depsgraph)
        co = np.empty(len(ev.data.vertices) * 3)
        ev.data.vertices.foreach_get("co", co)
        mw = np.array(ev.matrix_world)
        world = co.reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]
        centres = np.array([world[owner == j].mean(0) for j in range(55)])
        np.testing.assert_allclose(centres, joints[t], atol=3e-3)
        moved = max(moved, float(np.abs(joints[t] - joints[0]).max()))
    assert moved > 0.01  # the body moved with the reaction


def test_a_file_that_is_not_smplx_is_named(shot, tmp_path, capsys):
    import bpy

    bad = tmp_path / "SMPLX_NEUTRAL.npz"
    np.savez(bad, v_template=np.zeros((3, 3)))
    bpy.ops.wm.open_mainfile(filepath=str(shot))
    before = datablocks(bpy)
    out = tmp_path / "no.blend"
    code = run_cli(["generate", "--partner", "18_01", "--intent", "waves", "--frames", "1-8", "--out", str(out),
                    "--smplx-model", str(bad), *BACKEND])
    err = capsys.readouterr().err
    assert code == 1 and "SMPL-X model file (preferences: SMPL-X Model) cannot be used" in err, err
    assert str(bad) in err and "not a usable SMPL-X model" in err and "Traceback" not in err
    assert not out.exists() and datablocks(bpy) == before
