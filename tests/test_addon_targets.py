"""Reaction targets end to end with the real bpy module, a real BVH partner (CMU 18_01 through
Blender's BVH importer) and a real backend process running the real runtime (the trained prior
when shipped, else the tiny random prior): the created SMPL-X rig and a Mixamo-named rig get
every mapped bone keyed on every frame, no NaN, feet on the floor at contacts and a root that
stays with the partner. Rigify rigs: tests/test_addon_rigify.py."""
from __future__ import annotations

import numpy as np
import pytest

from addon.cli import run_cli
from inference_backend.body import RestSkeleton
from tests.addon_runtime import REAL_WEIGHTS
from tests.addon_shot import BACKEND, bone_direction_errors, keyed_frames, shot_file, world_heads
from tests.blender_env import ext_module

pytestmark = [pytest.mark.bpy, pytest.mark.data]
FRAMES = (1, 40)
FOOT_BONES = ("left_ankle", "right_ankle", "left_foot", "right_foot")


@pytest.fixture(scope="module")
def shot(data_dir, tmp_path_factory):
    return shot_file(data_dir, tmp_path_factory.mktemp("targets"))[1]


def _partner(bpy):
    frames = range(FRAMES[0], FRAMES[1] + 1)
    return ext_module("rig.read_partner").read_partner_joints(bpy.context, bpy.data.objects["18_01"], frames)


def check_motion(joints: np.ndarray, partner: np.ndarray, fps: float = 30.0):
    """joints (T, 22, 3) of the reaction in SMPL-X order; partner likewise. The motion-quality
    checks need the trained prior; the tiny random prior only has to stay finite and nearby."""
    assert np.isfinite(joints).all()
    pelvis, other = joints[:, 0], partner[:, 0]
    gap = np.linalg.norm(pelvis[:, :2] - other[:, :2], axis=1)
    assert 0.4 < pelvis[:, 2].min() and pelvis[:, 2].max() < 1.4 and gap.max() < 5.0
    if not REAL_WEIGHTS:
        return
    floor = partner[:, [7, 8, 10, 11], 2].min()  # the partner stands on the floor
    lows = np.stack([joints[:, side, 2].min(1) for side in ((7, 10), (8, 11))], 1)  # (T, 2) per foot
    for k, side in enumerate(((7, 10), (8, 11))):  # ankle, toe joint per side
        foot = joints[:, side]
        speed = np.linalg.norm(np.diff(foot.mean(1)[:, :2], axis=0), axis=1) * fps
        # A contact: the foot is (near) the lower, supporting one and does not slide; a raised
        # foot held still in the air is not a contact.
        supporting = lows[:, k] <= lows.min(1) + 0.03
        contact = np.r_[speed < 0.3, False] & supporting
        assert contact.any(), "the reaction never plants a foot"
        assert np.abs(lows[contact, k] - floor).max() < 0.05, lows[contact, k] - floor
    assert 0.6 < pelvis[:, 2].min() and pelvis[:, 2].max() < 1.2  # standing height
    step = np.linalg.norm(np.diff(pelvis[:, :2], axis=0), axis=1) * fps
    assert step.max() < 4.0  # no teleporting root (m/s)
    assert 0.3 < gap.min() and gap.max() < 3.0  # with the partner, not inside it


def _save_mixamo(bpy, rig, tmp_path):
    path = tmp_path / "mixamo_rig.blend"
    bpy.data.libraries.write(str(path), {rig})
    return path


def test_created_smplx_rig(shot, tmp_path, capsys):
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(shot))
    out = tmp_path / "smplx.blend"
    code = run_cli(["generate", "--partner", "18_01", "--intent", "shakes hands with the partner",
                    "--frames", f"{FRAMES[0]}-{FRAMES[1]}", "--out", str(out), *BACKEND])
    assert code == 0, capsys.readouterr().err
    rig = bpy.data.objects["ReMoGen shakes hands with the partner"]
    names = list(ext_module("rig.skeleton").BODY_JOINT_NAMES)
    keyed = keyed_frames(rig)
    want = tuple(range(FRAMES[0], FRAMES[1] + 1))
    assert set(names) <= set(keyed) and all(all(k == want for k in keyed[n]) for n in names)
    joints = world_heads(bpy, rig, names, want)
    check_motion(joints, _partner(bpy))
    _results["smplx"] = joints


_results: dict = {}


def test_mixamo_named_rig(shot, tmp_path, capsys):
    """The same generation (same seed: the backend is deterministic) baked onto a Mixamo-named
    rig in A-pose, Y-up centimetres under a rotated, scaled object, as the FBX importer leaves one."""
    import bpy

    from tests.test_addon_bake import _a_pose, build_mixamo_like

    if "smplx" not in _results:
        pytest.skip("needs test_created_smplx_rig's result")
    skeleton, bonemaps = ext_module("rig.skeleton"), ext_module("rig.bonemaps")
    names = list(skeleton.BODY_JOINT_NAMES)
    rest = skeleton.standing_rest_positions(RestSkeleton.template().offsets)[:22]
    rig, mixamo = build_mixamo_like(bpy, _a_pose(rest, names), names, bonemaps)
    rig_file = _save_mixamo(bpy, rig, tmp_path)
    bpy.ops.wm.open_mainfile(filepath=str(shot))
    with bpy.data.libraries.load(str(rig_file)) as (src, dst):
        dst.objects = ["Mixamo"]
    bpy.context.scene.collection.objects.link(dst.objects[0])
    out = tmp_path / "mixamo.blend"
    code = run_cli(["generate", "--partner", "18_01", "--intent", "shakes hands with the partner",
                    "--frames", f"{FRAMES[0]}-{FRAMES[1]}", "--target", "Mixamo", "--out", str(out), *BACKEND])
    assert code == 0, capsys.readouterr().err
    target = bpy.data.objects["Mixamo"]
    keyed = keyed_frames(target)
    want = tuple(range(FRAMES[0], FRAMES[1] + 1))
    bones = [mixamo[n] for n in names]
    assert set(bones) <= set(keyed) and all(all(k == want for k in keyed[b]) for b in bones)
    joints = world_heads(bpy, target, bones, want)
    check_motion(joints, _partner(bpy))
    smplx = _results["smplx"]
    np.testing.assert_allclose(joints[:, 0, :2], smplx[:, 0, :2], atol=0.01)  # same root path
    for name, worst in bone_direction_errors(joints, smplx).items():  # same bone directions, frame by frame
        assert worst < 2.0, name
