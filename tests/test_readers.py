"""Motion-file readers on the real staged CMU files, plus malformed inputs."""
from __future__ import annotations

import time

import numpy as np
import pytest

from inference_backend.data.amass import read_smplx_npz
from inference_backend.data.bvh import read_bvh
from inference_backend.data.catalog import find_takes
from inference_backend.data.source import MotionFileError

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def takes(data_dir, cache_dir):
    return {t.key: t for t in find_takes(data_dir, cache_dir)}


@pytest.fixture(scope="module")
def loaded(takes):
    cache = {}

    def load(key):
        if key not in cache:
            cache[key] = takes[key].load()
        return cache[key]
    return load


def _root(m):
    """Index of the pelvis-like joint (CC3 files may have a floor-level RL_BoneRoot first)."""
    return m.index("CC_Base_Hip") if "CC_Base_Hip" in m.joint_names else 0


def _median_speed(m):
    xy = m.positions[:, _root(m), :2]
    return float(np.median(np.linalg.norm(np.diff(xy, axis=0), axis=-1)) * m.fps)


def _check_sane(m):
    assert m.positions.dtype == np.float32 and m.positions.ndim == 3
    assert m.positions.shape[1] == len(m.joint_names) == len(m.parents)
    assert np.isfinite(m.positions).all() and np.isfinite(m.rest_positions).all()
    assert m.num_frames > 10 and m.fps in (60.0, 120.0)
    if m.meta.get("rest_is_tpose", True):
        height = m.rest_positions[:, 2].max() - m.rest_positions[:, 2].min()
        assert 1.4 <= height <= 2.1, (m.path, height)
    # hip above the lowest body point (01_08 climbs on playground equipment, 03_* on blocks)
    hip = np.median(m.positions[:, _root(m), 2] - m.positions[:, :, 2].min(1))
    assert 0.5 <= hip <= 1.3, (m.path, hip)


REPRESENTATIVE = ["cgspeed/18_01", "cc3/07_04", "cc3/02_04", "daz/02_01", "daz/61_02",
                  "daz/135_03", "asfbvh/16_01", "asf/02_01"]


@pytest.mark.parametrize("key", REPRESENTATIVE)
def test_representative_takes_load(key, loaded):
    m = loaded(key)
    _check_sane(m)
    expected = {"cgspeed": "cmu_cgspeed", "cc3": "cc3", "daz": "daz", "asfbvh": "cmu_asf_bvh", "asf": "cmu_asf"}
    assert m.skeleton == expected[key.split("/")[0]]


def test_cgspeed_pairs_hip_height(takes, loaded):
    keys = [k for k in takes if k.startswith("cgspeed/")]
    assert len(keys) == 26
    for k in keys:
        m = loaded(k)
        standing = np.median(m.positions[:40, 0, 2])
        assert 0.6 <= standing <= 1.15, (k, standing)  # 18_14 ends seated
        assert abs(np.percentile(m.positions[:, 0, 2], 90) - 1.0) < 0.1, k
        assert m.meta["dropped_tpose"]


def test_handshake_pair_first_frame_distance(loaded):
    a, b = loaded("cgspeed/18_01"), loaded("cgspeed/19_01")
    assert a.num_frames == b.num_frames == 303
    d = np.linalg.norm(a.positions[0, 0, :2] - b.positions[0, 0, :2])
    assert abs(d - 1.98) < 0.03
    # the handshake: right wrists come within ~0.4 m around t = 1 s
    ra, rb = a.index("RightHand"), b.index("RightHand")
    closest = np.linalg.norm(a.positions[:, ra] - b.positions[:, rb], axis=-1)
    assert closest.min() < 0.42 and 0.8 < closest.argmin() / a.fps < 1.3


def test_salsa_is_60fps_with_plausible_speed(takes, loaded):
    for key in ("daz/60_02", "daz/61_02"):
        assert takes[key].fps == 60.0
        m = loaded(key)
        assert m.fps == 60.0 and m.meta["header_fps"] == pytest.approx(120.0, abs=0.1)
        # read at the header's 120 fps this would be ~0.94 m/s
        assert 0.2 <= _median_speed(m) <= 0.75, key


def test_walking_speed(loaded):
    for key in ("daz/02_01", "cc3/07_04", "asf/02_01", "cc3/02_01"):
        assert 0.8 <= _median_speed(loaded(key)) <= 2.0, key


def test_amc2bvh_files_are_120fps_despite_header(takes, loaded):
    for key in ("asfbvh/16_01", "asfbvh/16_02"):
        m = loaded(key)
        assert m.fps == 120.0 and m.meta["header_fps"] == pytest.approx(30.0, abs=0.1)
        assert not m.meta["dropped_tpose"]
        root = m.positions[:, 0]
        peak = np.percentile(np.linalg.norm(np.diff(root, axis=0), axis=-1) * m.fps, 98)
        assert 1.5 <= peak <= 4.0, (key, peak)  # a jump; at 30 fps it would be ~0.6 m/s


@pytest.mark.parametrize("take_id", ["02_01", "03_02"])
def test_asf_amc_matches_bvh_conversions(take_id, loaded):
    """The AMC take and its Daz/CC3 conversions move the root along the same path."""
    amc, daz, cc3 = loaded(f"asf/{take_id}"), loaded(f"daz/{take_id}"), loaded(f"cc3/{take_id}")
    # Daz: frame 0 (T-pose) and the blend-in frames were dropped, the rest matches AMC frame for frame.
    start = daz.meta["lead_in_dropped"]
    a = amc.positions[start:start + daz.num_frames, 0, :2]
    d = daz.positions[: len(a), 0, :2]
    assert amc.num_frames == daz.num_frames + start  # AMC has no T-pose frame
    # Same world axes; the Daz conversion scales translation by ~0.95 and its hip joint sits a
    # few cm off CMU's root: fit a = scale * d + shift.
    def fit_error(a, d):
        a0, d0 = a - a.mean(0), d - d.mean(0)
        scale = float((a0 * d0).sum() / (d0 * d0).sum())
        return scale, np.linalg.norm(a0 - d0 * scale, axis=-1)

    scale, error = fit_error(a, d)
    assert 0.95 < scale < 1.1
    assert np.median(error) < 0.02 and error.max() < 0.05, (np.median(error), error.max())
    # Timing: the hip's vertical bob (gait, ~2 Hz) agrees frame for frame, and a 15-frame
    # (1/8 s) offset would show.
    za = amc.positions[start:start + daz.num_frames, 0, 2]
    zd = daz.positions[:, 0, 2]
    aligned = np.corrcoef(za, zd)[0, 1]
    assert aligned > 0.8
    assert np.corrcoef(za[15:], zd[:-15])[0, 1] < aligned - 0.08
    # CC3 (60 fps, other proportions): same duration and the same heading of travel.
    assert abs(cc3.num_frames / cc3.fps - amc.num_frames / amc.fps) < 0.05
    ta = amc.positions[-1, 0, :2] - amc.positions[0, 0, :2]
    r = _root(cc3)
    tc = cc3.positions[-1, r, :2] - cc3.positions[0, r, :2]
    assert np.dot(ta, tc) / np.linalg.norm(ta) / np.linalg.norm(tc) > 0.98
    assert 0.8 < np.linalg.norm(tc) / np.linalg.norm(ta) < 1.3
    # hip height above the lowest foot point, as a fraction of the skeleton's rest leg length
    # (Daz is a fixed figure with shorter legs; 03_02 is on raised terrain, which Daz re-grounds)
    def hip_over_feet(m):
        rest = m.rest_positions[0, 2] - m.rest_positions[:, 2].min()
        return np.median(m.positions[:, 0, 2] - m.positions[:, :, 2].min(1)) / rest
    assert abs(hip_over_feet(amc) - hip_over_feet(daz)) < 0.12  # catches unit or axis errors


def test_smplx_npz(tmp_path):
    T = 12
    path = tmp_path / "walk_poses.npz"
    trans = np.stack([np.linspace(0, 1.2, T), np.zeros(T), np.full(T, 0.95)], -1)
    np.savez(path, trans=trans, root_orient=np.tile([np.pi / 2, 0, 0], (T, 1)),
             pose_body=np.zeros((T, 63)), mocap_frame_rate=np.array(30.0))
    m = read_smplx_npz(path)
    assert m.skeleton == "smplx" and m.fps == 30.0 and m.positions.shape == (T, 22, 3)
    head, pelvis = m.positions[:, m.index("head")], m.positions[:, m.index("pelvis")]
    assert (head[:, 2] > pelvis[:, 2] + 0.4).all()                       # upright, Z up
    assert m.positions[0, m.index("left_hip"), 0] > pelvis[0, 0]        # left is +X
    assert np.allclose(pelvis[-1] - pelvis[0], [1.2, 0, 0], atol=1e-6)  # follows trans
    np.savez(tmp_path / "bad.npz", trans=trans)
    with pytest.raises(MotionFileError, match="bad.npz"):
        read_smplx_npz(tmp_path / "bad.npz")


# --- malformed BVH --------------------------------------------------------------------------

HEADER = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 10 0
    }
  }
}
"""
GOOD_MOTION = "MOTION\nFrames: 2\nFrame Time: 0.0333333\n0 90 0 0 0 0 0 0 0\n1 90 0 0 0 0 90 0 0\n"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_minimal_bvh_fk(tmp_path):
    m = read_bvh(_write(tmp_path, "ok.bvh", HEADER + GOOD_MOTION), drop_first_frame=False)
    assert m.joint_names == ["Hips", "Spine", "Spine_end"] and m.parents.tolist() == [-1, 0, 1]
    assert m.fps == pytest.approx(30.0, abs=1e-3) and m.skeleton == "unknown"
    s = m.meta["scale"]  # unknown units, guessed from the rest height (20 units -> CMU units)
    assert s == pytest.approx(0.056444, rel=1e-3)
    # frame 1: hips at (1, 90, 0) Y-up -> (1, 0, 90) Z-up; Spine rotated 90 deg about Z: the end
    # site points along -X from the spine.
    np.testing.assert_allclose(m.positions[1, 0] / s, [1, 0, 90], atol=1e-4)
    np.testing.assert_allclose(m.positions[1, 2] / s, [1 - 10, 0, 100], atol=1e-4)


@pytest.mark.parametrize("name,text,problem", [
    ("truncated.bvh", HEADER + "MOTION\nFrames: 3\nFrame Time: 0.01\n0 90 0 0 0 0 0 0 0\n", "truncated"),
    ("count.bvh", HEADER + "MOTION\nFrames: 2\nFrame Time: 0.01\n0 90 0 0 0 0 0 0 0\n0 90 0 0 0 0 0 0\n", "8 values"),
    ("zero.bvh", HEADER + "MOTION\nFrames: 0\nFrame Time: 0.01\n", "zero frames"),
    ("garbage.bvh", "this is not a motion file\n\x00\x01", "HIERARCHY"),
    ("text.bvh", HEADER + "MOTION\nFrames: 1\nFrame Time: 0.01\n0 90 0 0 x 0 0 0 0\n", "non-numeric"),
    ("nan.bvh", HEADER + "MOTION\nFrames: 1\nFrame Time: 0.01\n0 90 0 0 nan 0 0 0 0\n", "non-finite"),
    ("nomotion.bvh", HEADER, "MOTION"),
    ("braces.bvh", HEADER.replace("  }\n}\n", "  }\n"), "braces"),
])
def test_malformed_bvh_raises(tmp_path, name, text, problem):
    path = _write(tmp_path, name, text)
    with pytest.raises(MotionFileError) as err:
        read_bvh(path)
    assert name in str(err.value) and problem in str(err.value)


@pytest.mark.slow
def test_every_staged_take_loads(takes):
    """All takes (~215, ~100 MB of text): timing goes to the report."""
    start = time.perf_counter()
    frames = 0
    for key, take in sorted(takes.items()):
        m = take.load()
        _check_sane(m)
        frames += m.num_frames
    elapsed = time.perf_counter() - start
    print(f"loaded {len(takes)} takes, {frames} frames in {elapsed:.1f} s")
