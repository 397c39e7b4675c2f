"""Retargeting real mocap onto the canonical SMPL-X body (acceptance criteria of the data issue)."""
from __future__ import annotations

import numpy as np
import pytest

from inference_backend.body import BODY_JOINT_NAMES, JOINT_INDEX, RestSkeleton, canonical_rest, forward_kinematics
from inference_backend.body.rotations import axis_angle_to_matrix
from inference_backend.data.augment import both_roles, mirror, windows
from inference_backend.data.bonemaps import BONE_MAPS, BoneMapError, auto_detect
from inference_backend.data.quality import hip_roll, measure
from inference_backend.data.resample import resample
from inference_backend.data.retarget import MAPPED_BONES, direction_errors, measure_bone_lengths, retarget
from inference_backend.data.source import MotionFileError, SourceMotion

J = JOINT_INDEX


@pytest.fixture(scope="module")
def catalog(data_dir):
    from inference_backend.data.catalog import find_takes
    return {t.key: t for t in find_takes(data_dir)}


@pytest.fixture(scope="module")
def rest():
    return canonical_rest()


def _by_id(catalog, take_id, tag=None):
    hits = [t for t in catalog.values() if t.take_id == take_id and (tag is None or t.key.startswith(tag))]
    assert hits, f"take {take_id} not in the catalog"
    return hits[0]


def _check_take(key, src, rest):
    q = measure(key, src, rest)
    assert not q.problems(), f"{src.path}: {'; '.join(q.problems())}"
    return q


# One take per skeleton kind in the default run, plus the take with the deepest side bends
# (01_14, climbing: the pelvis rolls up to 32 deg against the hip line); every staged take in the slow one.
REPRESENTATIVE = [("18_01", "cgspeed"), ("02_01", "daz"), ("02_01", "cc3"), ("16_01", "asfbvh"), ("02_01", "asf"),
                  ("01_14", "cc3")]


@pytest.mark.data
@pytest.mark.parametrize("take_id,tag", REPRESENTATIVE)
def test_representative_takes(catalog, rest, take_id, tag):
    take = _by_id(catalog, take_id, tag)
    _check_take(take.key, take.load(), rest)


@pytest.mark.data
@pytest.mark.slow
def test_every_staged_take(catalog, rest):
    failures = []
    for key, take in sorted(catalog.items()):
        try:
            _check_take(key, take.load(), rest)
        except (AssertionError, MotionFileError, BoneMapError) as exc:
            failures.append(f"{key}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.data
def test_handshake_pair(catalog, rest):
    a = retarget(_by_id(catalog, "18_01", "cgspeed").load(), rest)
    b = retarget(_by_id(catalog, "19_01", "cgspeed").load(), rest)
    ja, jb = a.joints(rest), b.joints(rest)
    start = np.linalg.norm(ja[0, 0, :2] - jb[0, 0, :2])
    assert 1.7 <= start <= 2.3, f"start distance {start:.2f} m"

    def facing(j):  # forward = up x (right hip -> left hip) for a body facing -Y with left +X
        x = j[0, J["left_hip"]] - j[0, J["right_hip"]]
        f = np.cross([0.0, 0.0, 1.0], x)[:2] * -1.0
        return f / np.linalg.norm(f)

    fa, fb = facing(ja), facing(jb)
    assert fa @ fb < -0.8, "the two should face each other"
    to_b = (jb[0, 0, :2] - ja[0, 0, :2]) / start
    assert fa @ to_b > 0.8, "A should face towards B"
    d = np.linalg.norm(ja[:, J["right_wrist"]] - jb[:, J["right_wrist"]], axis=-1)
    window = slice(int(0.75 * a.fps), int(1.3 * a.fps))
    assert d[window].min() <= 0.45, f"right wrists {d[window].min():.2f} m apart at the handshake"


@pytest.mark.data
def test_walk_speed_and_direction(catalog, rest):
    m = retarget(_by_id(catalog, "02_01", "daz").load(), rest)  # "walk"
    j = m.joints(rest)
    travel = j[-1, 0, :2] - j[0, 0, :2]
    speed = np.linalg.norm(travel) / ((m.num_frames - 1) / m.fps)
    assert 0.8 <= speed <= 2.0, f"walking speed {speed:.2f} m/s"
    # walks forward: the direction of travel matches the body's facing (forward = -Y in rest)
    x = j[:, J["left_hip"]] - j[:, J["right_hip"]]
    fwd = -np.cross([0.0, 0.0, 1.0], x)[:, :2].mean(0)
    assert fwd @ travel / (np.linalg.norm(fwd) * np.linalg.norm(travel)) > 0.8


# --- synthetic sources: our own FK with other proportions and random smooth poses ---------------

def _synthetic_source(rng, frames=60, skeleton="smplx") -> SourceMotion:
    offsets = RestSkeleton.template().offsets.copy()
    offsets *= rng.uniform(0.8, 1.2, size=(len(offsets), 1))
    t = np.linspace(0, 2 * np.pi, frames)[:, None, None]
    amp = rng.uniform(0.1, 0.6, size=(1, 22, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(1, 22, 3))
    aa = amp * np.sin(t + phase)
    aa[:, 0] = 0.0
    local = axis_angle_to_matrix(aa)
    root = np.stack([np.linspace(0, 1.5, frames), np.zeros(frames), np.full(frames, 1.0)], -1)
    _, pos = forward_kinematics(local, offsets[:22], root)
    names = [n for n in J if J[n] < 22]
    from inference_backend.body import BODY_PARENTS
    return SourceMotion("synthetic", "synthetic", skeleton, names, BODY_PARENTS.copy(), offsets[:22],
                        pos.astype(np.float32), 60.0)


def test_synthetic_directions_exact(rest):
    src = _synthetic_source(np.random.default_rng(0))
    m = retarget(src, rest, floor=False)
    err = direction_errors(src, m, rest)
    assert max(err[b].max() for b in MAPPED_BONES) < 0.5


def test_unmappable_skeleton_is_a_clear_error(rest):
    src = _synthetic_source(np.random.default_rng(1), skeleton="unknown")
    src.joint_names = [f"bone{i}" for i in range(len(src.joint_names))]
    with pytest.raises(BoneMapError, match="cannot map joints by name"):
        retarget(src, rest)


def test_zero_frame_take_is_a_clear_error(rest):
    src = _synthetic_source(np.random.default_rng(2))
    src.positions = src.positions[:0]
    with pytest.raises(MotionFileError, match="0 frame"):
        retarget(src, rest)


def test_auto_detect_mixamo_names():
    names = ["mixamorig:Hips", "mixamorig:Spine", "mixamorig:Spine1", "mixamorig:Spine2", "mixamorig:Neck",
             "mixamorig:Head", "mixamorig:HeadTop_End"]
    parents = [-1, 0, 1, 2, 3, 4, 5]
    for side in ("Left", "Right"):
        base = len(names)
        names += [f"mixamorig:{side}Shoulder", f"mixamorig:{side}Arm", f"mixamorig:{side}ForeArm",
                  f"mixamorig:{side}Hand"]
        parents += [3, base, base + 1, base + 2]
    for side in ("Left", "Right"):
        base = len(names)
        names += [f"mixamorig:{side}UpLeg", f"mixamorig:{side}Leg", f"mixamorig:{side}Foot",
                  f"mixamorig:{side}ToeBase"]
        parents += [0, base, base + 1, base + 2]
    m = auto_detect(names, np.array(parents))
    assert m.points["left_hip"] == "mixamorig:LeftUpLeg"
    assert m.points["right_knee"] == "mixamorig:RightLeg"
    assert m.points["left_foot"] == "mixamorig:LeftToeBase"
    assert m.points["left_collar"] == "mixamorig:LeftShoulder"
    assert m.points["left_shoulder"] == "mixamorig:LeftArm"
    assert m.points["right_elbow"] == "mixamorig:RightForeArm"
    assert m.points["spine3"].joints[0] == "mixamorig:Hips"


def test_bone_maps_cover_all_body_joints():
    for kind, m in BONE_MAPS.items():
        assert len(m.points) == 22, kind
    # every bone is measured, the short pelvis and chest bones included
    assert set(MAPPED_BONES) == set(BODY_JOINT_NAMES[1:])


def test_side_bend_rolls_the_pelvis_and_keeps_every_direction(rest):
    """A source whose lower back leans 40 deg sideways against a level hip line: the rigid
    canonical pelvis cannot follow both, so it rolls over the hips; all bones stay exact."""
    src = _synthetic_source(np.random.default_rng(6), frames=30)
    lean = axis_angle_to_matrix(np.array([0.0, np.radians(40.0), 0.0]))   # about the forward axis
    pos = src.positions.astype(np.float64)
    spine = [J[n] for n in BODY_JOINT_NAMES if n.startswith(("spine", "neck", "head")) or "collar" in n
             or any(n.startswith(f"{s}_{k}") for s in ("left", "right") for k in ("shoulder", "elbow", "wrist"))]
    pivot = pos[:, :1]
    pos[:, spine] = (pos[:, spine] - pivot) @ lean.T + pivot
    src.positions = pos.astype(np.float32)
    m = retarget(src, rest, floor=False)
    err = direction_errors(src, m, rest)
    assert max(err[b].max() for b in MAPPED_BONES) < 0.01
    roll = hip_roll(src, m, rest)
    assert roll.min() > 5.0, "the pelvis should roll, not keep the hip line"


def test_measured_lengths_are_symmetric():
    rng = np.random.default_rng(3)
    lengths = measure_bone_lengths([_synthetic_source(rng) for _ in range(3)])
    assert lengths["left_knee"] == lengths["right_knee"]
    rest = RestSkeleton.from_bone_lengths(lengths)
    assert np.isfinite(rest.offsets).all()


def test_resample_keeps_endpoints_and_rate(rest):
    src = _synthetic_source(np.random.default_rng(4), frames=121)
    m60 = retarget(src, rest, target_fps=60.0, floor=False)
    m30 = resample(m60, 30.0)
    assert m30.fps == 30.0 and m30.num_frames == 61
    np.testing.assert_allclose(m30.rotations[-1], m60.rotations[-1], atol=1e-5)
    np.testing.assert_allclose(m30.rotations[10], m60.rotations[20], atol=1e-5)


def test_mirror_is_an_involution_and_swaps_sides(rest):
    m = retarget(_synthetic_source(np.random.default_rng(5)), rest, floor=False)
    back = mirror(mirror(m))
    np.testing.assert_allclose(back.rotations, m.rotations, atol=1e-6)
    j, jm = m.joints(rest), mirror(m).joints(rest)
    # the mirrored left wrist is where the reflected right wrist was (exact up to skeleton asymmetry)
    refl = j[:, J["right_wrist"]] * np.array([-1.0, 1.0, 1.0])
    assert np.abs(jm[:, J["left_wrist"]] - refl).max() < 0.05
    assert len(list(windows(m, 20, 10))) == (m.num_frames - 20) // 10 + 1
    assert [x.take_id for pair in both_roles(m, mirror(m)) for x in pair] == [m.take_id] * 4
