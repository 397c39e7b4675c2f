"""The headless command end to end: a real CMU BVH partner in a .blend, a real backend process on
loopback (serving the deterministic echo session from tests/echo_runtime.py, so no trained model
is needed), keys on a new SMPL-X rig, the saved file, and a Workbench render in a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from addon.cli import parse_frames, parse_weights, run_cli
from inference_backend.body import RestSkeleton
from tests.blender_env import HAVE_BPY, bpy_and_extension, ext_module, reset

ROOT = Path(__file__).resolve().parents[1]
ECHO = ["--backend-arg=--session-factory", "--backend-arg=tests.echo_runtime:load", "--backend-dir", str(ROOT)]


def test_argument_parsing():
    assert parse_frames("1-240") == (1, 240) and parse_frames("12") == (12, 12)
    assert parse_weights("hhi=1,hsi=0.5") == {"hhi": 1.0, "hsi": 0.5}
    assert run_cli(["generate", "--partner", "A"]) == 2
    assert run_cli(["generate", "--partner", "A", "--intent", "x", "--out", "o.blend", "--frames", "9-3"]) == 2


@pytest.fixture(scope="module")
def shot(data_dir, tmp_path_factory):
    """shot.blend with subject 18's take 18_01 as the partner, and the rest skeleton file."""
    if not HAVE_BPY:
        pytest.skip("the bpy module (Blender as a Python module) is not installed")
    bpy, _ = bpy_and_extension()
    out = tmp_path_factory.mktemp("shot")
    with tarfile.open(data_dir / "cmu" / "cmu_pairs_18-23_verified.tar.xz") as tf:
        tf.extract("pairs/18_01.bvh", out, filter="data")
    reset()
    bpy.ops.import_anim.bvh(filepath=str(out / "pairs" / "18_01.bvh"), global_scale=0.056444,
                            update_scene_fps=False, update_scene_duration=True)
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0.0, 2.0, 0.5))
    bpy.context.active_object.name = "Table"
    blend = out / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    rest = out / "rest_skeleton.json"
    rest.write_text(json.dumps(RestSkeleton.template().to_json()))
    return blend, rest


@pytest.mark.bpy
@pytest.mark.data
def test_generate_writes_rig_action_and_file(shot, tmp_path, capsys):
    import bpy

    blend, rest = shot
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    out = tmp_path / "out.blend"
    code = run_cli(["generate", "--partner", "18_01", "--intent", "shakes hands", "--frames", "2-31",
                    "--scene", "Table", "--out", str(out), "--rest-skeleton", str(rest), "--device", "cpu", *ECHO])
    err = capsys.readouterr()
    assert code == 0, err.err
    assert out.is_file()
    rig = bpy.data.objects["ReMoGen shakes hands"]
    action = rig.animation_data.action
    assert action.name == "ReMoGen shakes hands 1"
    bag = action.layers[0].strips[0].channelbag(rig.animation_data.action_slot)
    loc = [fc for fc in bag.fcurves if fc.data_path.endswith("location")]
    assert len(bag.fcurves) == 22 * 4 + 3 and all(len(fc.keyframe_points) == 30 for fc in bag.fcurves)
    # The echo backend puts the pelvis on the partner's mirror image (x -> -x, y + 1 m) and a
    # frame counter in transl z: the rig's root must land exactly there.
    read_partner = ext_module("rig.read_partner")
    partner = read_partner.read_partner_joints(bpy.context, bpy.data.objects["18_01"], [2, 31])
    bpy.context.scene.frame_set(31)
    ev = rig.evaluated_get(bpy.context.evaluated_depsgraph_get())
    pelvis = np.array(ev.matrix_world @ ev.pose.bones["pelvis"].head)
    np.testing.assert_allclose(pelvis[:2], [-partner[1, 0, 0], partner[1, 0, 1] + 1.0], atol=1e-3)
    assert pelvis[2] == pytest.approx(30.0, abs=1e-3)
    assert len(loc) == 3


@pytest.mark.bpy
@pytest.mark.data
def test_bad_partner_is_a_clear_error(shot, tmp_path, capsys):
    import bpy

    blend, rest = shot
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    code = run_cli(["generate", "--partner", "Table", "--intent", "wave", "--out", str(tmp_path / "o.blend"),
                    "--rest-skeleton", str(rest), *ECHO])
    assert code == 1
    assert "partner 'Table' is a mesh, not an armature" in capsys.readouterr().err
    code = run_cli(["generate", "--partner", "Nobody", "--intent", "wave", "--out", str(tmp_path / "o.blend"),
                    "--rest-skeleton", str(rest), *ECHO])
    assert code == 1
    assert "partner 'Nobody' is not in the file; armature objects here: 18_01" in capsys.readouterr().err
    assert not (tmp_path / "o.blend").exists()


@pytest.mark.bpy
@pytest.mark.data
@pytest.mark.slow
def test_headless_render_in_subprocess(shot, tmp_path):
    blend, rest = shot
    out, video = tmp_path / "out.blend", tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "addon.headless", str(blend), "generate", "--partner", "18_01", "--intent", "wave",
           "--frames", "2-13", "--out", str(out), "--render", str(video), "--resolution", "160x90",
           "--rest-skeleton", str(rest), "--device", "cpu", *ECHO]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.is_file() and video.is_file() and video.stat().st_size > 1000
    assert "remogen: rendered" in proc.stdout


@pytest.mark.bpy
@pytest.mark.data
@pytest.mark.slow
def test_generate_with_the_real_runtime(shot, tmp_path, capsys):
    """The trained model through the real backend; runs once the runtime and its weights exist."""
    import importlib.util

    if importlib.util.find_spec("inference_backend.runtime.session") is None:
        pytest.skip("inference_backend.runtime.session does not exist yet (the runtime is not written)")
    import bpy

    blend, rest = shot
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    out = tmp_path / "real.blend"
    code = run_cli(["generate", "--partner", "18_01", "--intent", "shakes hands", "--frames", "2-61",
                    "--out", str(out), "--device", "cpu", "--backend-dir", str(ROOT)])
    err = capsys.readouterr().err
    if code != 0 and "model weights missing" in err:
        pytest.skip(f"the runtime has no trained weights yet: {err.strip()[-300:]}")
    assert code == 0, err
    rig = bpy.data.objects["ReMoGen shakes hands"]
    bpy.context.scene.frame_set(61)
    ev = rig.evaluated_get(bpy.context.evaluated_depsgraph_get())
    pelvis = np.array(ev.matrix_world @ ev.pose.bones["pelvis"].head)
    assert 0.5 < pelvis[2] < 1.3  # a standing human, not the echo's frame counter
