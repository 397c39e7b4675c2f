"""Bad input through the headless command: each case exits with the right code and one clear
line, writes no output file and leaves the open .blend as it was (same datablocks; the shot
file on disk unchanged). The backend is a real process (the echo session: these are
transport and validation paths, not model output)."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from addon import generate as plain_generate
from addon.cli import run_cli
from inference_backend.server.validation import Limits
from tests.addon_shot import datablocks, file_hash, shot_file
from tests.blender_env import ext_module

pytestmark = [pytest.mark.bpy, pytest.mark.data]
ROOT = Path(__file__).resolve().parents[1]
ECHO = ["--backend-arg=--session-factory", "--backend-arg=tests.echo_runtime:load", "--backend-dir", str(ROOT),
        "--device", "cpu"]


def test_scene_caps_match_the_backend():
    assert plain_generate.MAX_SCENE_FACES == Limits().max_faces
    assert plain_generate.MAX_SCENE_VERTICES == Limits().max_vertices


@pytest.fixture(scope="module")
def shot(data_dir, tmp_path_factory):
    bpy, blend = shot_file(data_dir, tmp_path_factory.mktemp("bad"))
    # extra objects: an armature no bone map fits, a vertices-only mesh, a huge plane
    stick = bpy.data.objects.new("Stick", bpy.data.armatures.new("Stick"))
    bpy.context.scene.collection.objects.link(stick)
    bpy.context.view_layer.objects.active = stick
    bpy.ops.object.mode_set(mode="EDIT")
    for name, z in (("Root", 0.0), ("Tip", 1.0)):
        eb = stick.data.edit_bones.new(name)
        eb.head, eb.tail = (0, 0, z), (0, 0, z + 1.0)
    bpy.ops.object.mode_set(mode="OBJECT")
    cloud = bpy.data.meshes.new("Cloud")
    cloud.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [(0, 1)], [])
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("Cloud", cloud))
    bpy.ops.mesh.primitive_plane_add(size=60.0)
    bpy.context.active_object.name = "Field"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    return blend


def _run(bpy, shot, tmp_path, capsys, *extra, partner="18_01", frames="1-20"):
    """Run the command on the open shot; returns (exit code, stderr, output file)."""
    bpy.ops.wm.open_mainfile(filepath=str(shot))
    before, digest = datablocks(bpy), file_hash(shot)
    out = tmp_path / "out.blend"
    code = run_cli(["generate", "--partner", partner, "--intent", "waves", "--frames", frames,
                    "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert not out.exists(), "a failed run must not write the output file"
    assert datablocks(bpy) == before and file_hash(shot) == digest
    assert err.count("\n") == 1 and err.startswith("remogen: error: "), err  # one line, no traceback
    return code, err


def test_partner_not_an_armature_or_unmappable(shot, tmp_path, capsys):
    import bpy

    code, err = _run(bpy, shot, tmp_path, capsys, *ECHO, partner="Table")
    assert code == 1 and "partner 'Table' is a mesh, not an armature" in err
    code, err = _run(bpy, shot, tmp_path, capsys, *ECHO, partner="Stick")
    assert code == 1 and "partner 'Stick': no bone map fits this rig" in err and "missing" not in err[:10]


def test_scene_without_faces_or_over_the_caps(shot, tmp_path, capsys, monkeypatch):
    import bpy

    code, err = _run(bpy, shot, tmp_path, capsys, *ECHO, "--scene", "Cloud")
    assert code == 1 and "scene object 'Cloud' has no faces" in err
    # the backend's own cap on the voxelization work (mesh area / voxel area), from the real server
    code, err = _run(bpy, shot, tmp_path, capsys, *ECHO, "--scene", "Field", "--voxel-size", "0.002")
    assert code == 1 and "too_large" in err and "use a larger voxel size" in err, err
    # the face cap, checked before the backend starts (lowered here: a 4M-face mesh is slow to build)
    monkeypatch.setattr(plain_generate, "MAX_SCENE_FACES", 10)  # the module run_cli uses
    code, err = _run(bpy, shot, tmp_path, capsys, *ECHO, "--scene", "Table")
    assert code == 1 and "has 12 triangles" in err and "at most 10" in err


def test_frame_range_outside_the_partner(shot, tmp_path, capsys):
    import bpy

    code, err = _run(bpy, shot, tmp_path, capsys, *ECHO, frames="300-340")
    assert code == 1 and "frames 300-340 are outside the partner '18_01''s animation" in err
    code, err = _run(bpy, shot, tmp_path, capsys, *ECHO, frames="30-20")
    assert code == 2 and "the end comes before the start" in err


def test_backend_missing(shot, tmp_path, capsys):
    import bpy

    missing = tmp_path / "no" / "python3"
    code, err = _run(bpy, shot, tmp_path, capsys, *ECHO, "--backend-python", str(missing))
    assert code == 1 and str(missing) in err


def _backend_children() -> list[int]:
    """This process's backend server children (Linux /proc)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and b"inference_backend.server" in cmd:
            out.append(int(pid))
    return out


def test_backend_killed_mid_run(shot, tmp_path, capsys, monkeypatch):
    import bpy

    killed: list = []
    real_call = plain_generate.call_backend

    def call_and_kill(client, prepared, on_progress=None):
        def progress(done, total):  # the first progress message: the backend is mid-generation
            if not killed:
                for pid in _backend_children():
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            return on_progress(done, total) if on_progress else True

        return real_call(client, prepared, on_progress=progress)

    monkeypatch.setattr(plain_generate, "call_backend", call_and_kill)
    bpy.ops.wm.open_mainfile(filepath=str(shot))
    before = datablocks(bpy)
    out = tmp_path / "out.blend"
    code = run_cli(["generate", "--partner", "18_01", "--intent", "slow", "--frames", "1-76", "--out", str(out),
                    *ECHO])  # the echo's "slow" intent takes 10 ms a frame
    err = capsys.readouterr().err
    assert killed, "no backend child was found to kill"
    assert code == 1 and "backend" in err.lower() and err.startswith("remogen: error: "), err
    assert "Traceback" not in err
    assert not out.exists() and datablocks(bpy) == before


def test_missing_smplx_model_file_is_named(shot, tmp_path, capsys):
    """The SMPL-X model preference pointing at a missing file stops a generation onto a new rig
    before the backend starts, naming the file."""
    import bpy

    prefs = bpy.context.preferences.addons[ext_module("cli").__package__].preferences
    missing = tmp_path / "missing" / "SMPLX_NEUTRAL.npz"
    prefs.smplx_model = str(missing)
    try:
        bpy.ops.wm.open_mainfile(filepath=str(shot))
        before = datablocks(bpy)
        out = tmp_path / "no.blend"
        # the enabled extension's own command: it reads its preferences
        code = ext_module("cli").run_cli(["generate", "--partner", "18_01", "--intent", "waves", "--frames", "1-8",
                                          "--out", str(out), *ECHO])
        captured = capsys.readouterr()
        assert code == 1 and f"SMPL-X model file {str(missing)!r}" in captured.err and "does not exist" in captured.err
        assert "backend ready" not in captured.out and not out.exists() and datablocks(bpy) == before
    finally:
        prefs.smplx_model = ""
