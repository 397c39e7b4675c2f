"""Operators, registration and the live-preview bookkeeping.

bpy tests run in background mode, where the Generate operator is synchronous; the backend is a
real server process on loopback serving the deterministic echo session (tests/echo_runtime.py)
with its real voxelizer."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from addon.preview import PreviewState, preview_tick
from inference_backend.body import RestSkeleton
from tests.blender_env import HAVE_BPY, bpy_and_extension, ext_module, reset

ROOT = Path(__file__).resolve().parents[1]


class FakeBackend:
    """Records the calls preview_tick makes (the real backend is exercised in the bpy tests)."""

    def __init__(self):
        self.calls = []
        self.opened = 0

    def open_session(self, history):
        self.calls.append(("open", history.shape))
        self.opened += 1
        return f"s{self.opened}"

    def step(self, session, frame):
        self.calls.append(("step", session, float(frame[0, 0])))
        return {"frame": float(frame[0, 0])}

    def close(self, session):
        self.calls.append(("close", session))


def _tick(state, backend, frame):
    partner = np.full((22, 3), float(frame), np.float32)
    return preview_tick(state, frame, partner, backend.open_session, backend.step, backend.close)


def test_preview_steps_each_new_frame_once_and_restarts_on_scrub_back():
    state, backend = PreviewState(), FakeBackend()
    assert _tick(state, backend, 10) == {"frame": 10.0}
    assert _tick(state, backend, 10) is None  # same frame: nothing to do
    assert _tick(state, backend, 11) == {"frame": 11.0}
    assert backend.calls == [("open", (1, 22, 3)), ("step", "s1", 10.0), ("step", "s1", 11.0)]
    backend.calls.clear()
    assert _tick(state, backend, 14) == {"frame": 14.0}  # skipped frames are interpolated, in order
    assert [c[2] for c in backend.calls] == pytest.approx([12.0, 13.0, 14.0], abs=1e-5)
    backend.calls.clear()
    _tick(state, backend, 5)  # scrubbing back restarts: a causal model cannot un-see frames
    assert backend.calls == [("close", "s1"), ("open", (1, 22, 3)), ("step", "s2", 5.0)]
    assert state.restarts == 1
    backend.calls.clear()
    _tick(state, backend, 5 + state.max_catch_up + 1)  # a far jump also restarts
    assert backend.calls[0] == ("close", "s2") and state.restarts == 2


@pytest.fixture(scope="module")
def ext(tmp_path_factory):
    if not HAVE_BPY:
        pytest.skip("the bpy module (Blender as a Python module) is not installed")
    bpy, module = bpy_and_extension()
    rest = tmp_path_factory.mktemp("rest") / "rest_skeleton.json"
    rest.write_text(json.dumps(RestSkeleton.template().to_json()))
    prefs = bpy.context.preferences.addons[module.__name__].preferences
    prefs.backend_python = sys.executable
    prefs.backend_dir = str(ROOT)
    prefs.device = "cpu"
    prefs.model_dir = str(rest.parent.parent)  # <model_dir>/skeleton/rest_skeleton.json is looked up
    (rest.parent.parent / "skeleton").mkdir(exist_ok=True)
    (rest.parent.parent / "skeleton" / "rest_skeleton.json").write_text(rest.read_text())
    os.environ["REMOGEN_BACKEND_ARGS"] = "--session-factory tests.echo_runtime:load"
    yield bpy
    ext_module("runtime_state").stop_backend()
    os.environ.pop("REMOGEN_BACKEND_ARGS", None)



@pytest.mark.bpy
def test_registered(ext):
    bpy = ext
    for op in ("generate", "live_preview", "voxelize", "import_scene", "create_rig", "bake_to_rig",
               "backend_start", "backend_stop"):
        assert hasattr(bpy.ops.remogen, op)
    assert "REMOGEN_FH_scene" in dir(bpy.types) and "REMOGEN_PT_main" in dir(bpy.types)
    reset()
    assert bpy.context.scene.remogen.intent


def _walking_partner(bpy, frames=12):
    """An SMPL-X rig walking along -Y, keyed with the bulk writer: a partner any test can make."""
    rig = ext_module("rig.create_rig").create_smplx_rig(RestSkeleton.template().offsets, name="Partner")
    keys, skeleton, write_keys = ext_module("rig.keys"), ext_module("rig.skeleton"), ext_module("rig.write_keys")
    names = skeleton.BODY_JOINT_NAMES
    rots, heads = ext_module("rig.create_rig").bone_rest(rig, names)
    transl = np.stack([np.zeros(frames), -0.05 * np.arange(frames), np.full(frames, 0.95)], 1)
    reaction = {"global_orient": np.zeros((frames, 3)), "body_pose": np.zeros((frames, 63)), "transl": transl}
    local, transl = keys.local_rotations(reaction)
    quats, loc = keys.pose_channels(local, transl, rots, heads[0])
    write_keys.write_pose_action(rig, names, quats, loc, 1, "walk")
    return rig


@pytest.mark.bpy
def test_generate_operator_in_background_and_backend_buttons(ext):
    bpy = ext
    reset()
    partner = _walking_partner(bpy)
    s = bpy.context.scene.remogen
    s.partner = partner
    s.intent = "walks beside"
    s.use_scene_range = False
    s.frame_start, s.frame_end = 1, 12
    assert bpy.ops.remogen.generate() == {"FINISHED"}
    rig = bpy.data.objects["ReMoGen walks beside"]
    assert rig.animation_data.action.name == "ReMoGen walks beside 1"
    assert partner.animation_data.action.name == "walk"  # the partner's own action untouched
    assert bpy.ops.remogen.backend_start() == {"FINISHED"} and s.backend_state == "running"
    assert bpy.ops.remogen.backend_stop() == {"FINISHED"} and s.backend_state == "stopped"


@pytest.mark.bpy
def test_generate_operator_reports_errors_without_traceback(ext):
    bpy = ext
    reset()
    with pytest.raises(RuntimeError, match="choose the partner armature first"):
        bpy.ops.remogen.generate()  # bpy turns an ERROR report into RuntimeError in background


@pytest.mark.bpy
def test_voxelize_and_dropped_scene_file(ext, tmp_path):
    bpy = ext
    reset()
    obj_file = tmp_path / "box.obj"
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0.0, 0.0, 0.5))
    bpy.ops.wm.obj_export(filepath=str(obj_file), export_selected_objects=True, export_materials=False)
    reset()
    assert bpy.ops.remogen.import_scene(filepath=str(obj_file)) == {"FINISHED"}
    s = bpy.context.scene.remogen
    assert s.scene_mesh is not None and s.scene_mesh.type == "MESH"
    overlay = bpy.data.objects["ReMoGen Voxels"]
    cells = overlay["remogen_voxels"]
    # a 1 m cube at 0.1 m voxels: its surface shell, at least the 6 faces' cells, at most the full block
    assert 6 * 8 * 8 <= cells <= 11 ** 3
    assert len(overlay.data.vertices) == 8 * cells
    with pytest.raises(RuntimeError, match="unsupported scene file type '.txt'"):
        bpy.ops.remogen.import_scene(filepath=str(tmp_path / "notes.txt"))
