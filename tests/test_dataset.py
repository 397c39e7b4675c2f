"""`data build` on a small data folder: good takes cached, bad files skipped with a warning."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from inference_backend.body import canonical_rest
from inference_backend.data import cli, dataset

BAD_ZERO_FRAMES = """HIERARCHY
ROOT Hips
{
 OFFSET 0 0 0
 CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
 JOINT Chest
 {
  OFFSET 0 10 0
  CHANNELS 3 Zrotation Yrotation Xrotation
  End Site
  {
   OFFSET 0 10 0
  }
 }
}
MOTION
Frames: 0
Frame Time: 0.0333333
"""

BAD_UNMAPPABLE = BAD_ZERO_FRAMES.replace("Frames: 0", "Frames: 2").replace("Hips", "bone_a").replace(
    "Chest", "bone_b") + "0 90 0 0 0 0 0 0 0\n0 91 0 0 0 0 0 0 0\n"


@pytest.fixture(scope="module")
def small_data(data_dir, tmp_path_factory):
    """One good take (18_01, cgspeed skeleton) and two bad files in a plain user folder."""
    from inference_backend.data.catalog import find_takes

    good = [t for t in find_takes(data_dir) if t.take_id == "18_01" and t.key.startswith("cgspeed")][0]
    root = tmp_path_factory.mktemp("data")
    (root / "mine").mkdir()
    shutil.copy(good.path, root / "mine" / "18_01.bvh")
    (root / "mine" / "empty.bvh").write_text(BAD_ZERO_FRAMES)
    (root / "mine" / "strange.bvh").write_text(BAD_UNMAPPABLE)
    return root


@pytest.mark.data
def test_build_skips_bad_files_and_is_incremental(small_data, tmp_path, capsys):
    cache = tmp_path / "cache"
    rest = tmp_path / "rest.json"
    argv = ["build", "--data", str(small_data), "--cache", str(cache), "--rest", str(rest), "--quiet"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "takes: 1 (1 retargeted, 0 unchanged)" in out
    assert "skipped: 2" in out
    assert "empty.bvh" in out and "strange.bvh" in out
    index = json.loads((cache / "index.json").read_text())["takes"]
    (key, entry), = index.items()
    assert entry["take_id"] == "18_01" and entry["skeleton"] == "cmu_cgspeed"
    assert entry["fps"] == 30.0 and entry["frames"] == 76
    with np.load(cache / entry["file"], allow_pickle=False) as z:
        assert z["rotations"].shape == (76, 22, 3, 3)
    assert json.loads(rest.read_text())["format"] == "remogen-rest-skeleton-1"
    # a second build redoes nothing
    assert cli.main(argv) == 0
    assert "takes: 1 (0 retargeted, 1 unchanged)" in capsys.readouterr().out
    motions = dataset.load_motions(cache, split=None)
    assert len(motions) == 1 and motions[0].take_id == "18_01"
    motions[0].validate()


@pytest.mark.data
def test_check_measures_good_takes_and_lists_bad_files(small_data, tmp_path, capsys):
    report = tmp_path / "retarget.md"
    argv = ["check", "--data", str(small_data), "--cache", str(tmp_path / "cache"), "--quiet", "--out", str(report)]
    assert cli.main(argv) == 1                      # the two bad files are problems to report
    out = capsys.readouterr().out
    assert "| cmu_cgspeed | 1 | 76 | 0.0000 / 0.0000 /" in out
    assert "empty.bvh" in out and "strange.bvh" in out
    assert report.read_text().startswith("# Retargeting quality") and "How to read it" in report.read_text()


def test_npz_round_trip(tmp_path):
    from inference_backend.data.motion import Motion

    rng = np.random.default_rng(0)
    m = Motion("x_01", 30.0, rng.normal(size=(5, 3)).astype(np.float32),
               np.tile(np.eye(3, dtype=np.float32), (5, 22, 1, 1)), "walk", "daz", {"scale": 1.0})
    dataset.save_motion(tmp_path / "m.npz", m)
    back = dataset.load_motion(tmp_path / "m.npz")
    assert back.take_id == "x_01" and back.text == "walk" and back.meta == {"scale": 1.0}
    np.testing.assert_array_equal(back.transl, m.transl)


def test_load_pairs_from_a_cache(tmp_path):
    from inference_backend.data.motion import Motion

    rots = np.tile(np.eye(3, dtype=np.float32), (6, 22, 1, 1))
    for key, n in (("a", 6), ("b", 5)):
        dataset.save_motion(tmp_path / "motions" / f"{key}.npz",
                            Motion(key, 30.0, np.zeros((n, 3), np.float32), rots[:n]))
    index = {"a": {"take_id": "a", "split": "train", "file": "motions/a.npz", "partner": "b"},
             "b": {"take_id": "b", "split": "train", "file": "motions/b.npz", "partner": "a"}}
    (tmp_path / "index.json").write_text(json.dumps({"takes": index}))
    (pair,) = dataset.load_pairs(tmp_path, "train")
    assert [m.take_id for m in pair] == ["a", "b"] and pair[0].num_frames == pair[1].num_frames == 5
    assert dataset.load_pairs(tmp_path, "test") == []


def test_shipped_rest_skeleton_loads():
    rest = canonical_rest()
    assert 0.8 < rest.pelvis_height < 1.1
