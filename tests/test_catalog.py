"""The take catalog, pairs, splits and text on the real staged data (and small user folders)."""
from __future__ import annotations

import collections
import shutil

import pytest

from inference_backend.data import text
from inference_backend.data.catalog import extract_tarballs, find_takes, pairs, partner_take_id
from inference_backend.data.splits import split_key, split_of

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def catalog(data_dir, cache_dir):
    skipped = []
    takes = find_takes(data_dir, cache_dir, skipped=skipped)
    return takes, skipped


def test_counts_per_source(catalog):
    takes, skipped = catalog
    counts = collections.Counter(t.key.split("/")[0] for t in takes)
    assert counts == {"cc3": 61, "daz": 97, "asf": 28, "cgspeed": 26, "asfbvh": 2}
    assert len({t.key for t in takes}) == len(takes) == 214
    assert any(p.name == "standard.bvh" for p, _ in skipped)
    assert not any(t.path.name == "standard.bvh" for t in takes)
    # duplicates of one take in several skeletons are kept, with distinct keys
    assert {t.key for t in takes if t.take_id == "02_01"} == {"cc3/02_01", "daz/02_01", "asf/02_01"}


def test_true_frame_rates_and_tpose(catalog):
    by_key = {t.key: t for t in catalog[0]}
    assert all(by_key[f"daz/{s}_{k:02d}"].fps == 60.0 for s in (60, 61) for k in (1, 7, 15))
    assert by_key["daz/94_06"].fps == 120.0 and by_key["daz/135_03"].fps == 120.0
    assert by_key["asfbvh/16_01"].fps == 120.0 and by_key["asfbvh/16_01"].drop_first_frame is False
    assert by_key["cgspeed/18_01"].fps == 120.0 and by_key["cgspeed/18_01"].drop_first_frame is True
    assert by_key["cc3/05_01"].fps == 60.0
    assert by_key["daz/02_01"].drop_first_frame is True and by_key["asf/02_01"].asf_path.name == "02.asf"
    # papagina renamed files: salsa/16 is 61_01
    assert by_key["daz/61_01"].path.parts[-2:] == ("salsa", "16.bvh")


def test_text_and_roles(catalog):
    by_key = {t.key: t for t in catalog[0]}
    assert by_key["cgspeed/18_01"].text == "walk, shake hands" and by_key["cgspeed/18_01"].role == "A"
    assert by_key["cgspeed/19_01"].role == "B"
    assert by_key["daz/94_04"].text == "indian dance"
    assert by_key["daz/60_01"].text == "salsa dance"
    assert text.capture_fps("60_01") == 60.0 and text.capture_fps("18_01") == 120.0
    assert text.describe("99_99") == ""
    assert text.clean("Walk  w/ Hands  (2 subjects - subject B)") == ("walk with hands", "B")


def test_pairs(catalog):
    found = pairs(catalog[0])
    ids = [p.id for p in found]
    assert len(found) >= 27 and len(set(ids)) == len(ids)
    assert sum(i.startswith(("18_", "20_", "22_")) for i in ids) == 13
    assert sum(i.startswith("60_") for i in ids) == 14
    for p in found:
        assert partner_take_id(p.a.take_id) == p.b.take_id and p.a.source == p.b.source
    hs = next(p for p in found if p.id == "18_01+19_01")
    assert hs.a.role == "A" and hs.b.role == "B"


def test_split_invariants(catalog):
    takes = catalog[0]
    assert split_of("18_01") == split_of("19_01") == "test"
    assert split_of("60_15") == split_of("61_15") == "test"
    assert split_of("22_07") == split_of("23_07") == "val"
    assert split_of("60_14") == split_of("61_14") == "val"
    for p in pairs(takes):
        assert split_of(p.a.take_id) == split_of(p.b.take_id)
    by_id = collections.defaultdict(set)
    for t in takes:
        by_id[t.take_id].add(split_of(t.take_id))
    assert all(len(s) == 1 for s in by_id.values())
    test_text = " ".join(t.text for t in takes if split_of(t.take_id) == "test")
    for word in ("walk", "run", "jump"):
        assert word in test_text
    # the hash rule's fractions over a large set of ids
    many = collections.Counter(split_of(f"{s:02d}_{k:02d}") for s in range(100, 140) for k in range(1, 50))
    total = sum(many.values())
    assert 0.08 < many["test"] / total < 0.12 and 0.035 < many["val"] / total < 0.065
    assert split_key("61_03") == "60_03" and split_key("dance:b") == "dance"


def test_extraction_is_cached(data_dir, cache_dir):
    first = extract_tarballs(data_dir, cache_dir)
    stamp = [p.stat().st_mtime_ns for p in first]
    again = extract_tarballs(data_dir, cache_dir)
    assert again == first and [p.stat().st_mtime_ns for p in again] == stamp
    assert not list((cache_dir / "extracted").glob(".tmp-*"))


def test_user_folders_and_pairs(tmp_path, data_dir, cache_dir):
    """A user's own folder: a `_pair` folder, an A/B folder, a plain take and an AMC take."""
    pairs_dir = cache_dir / "extracted" / "cmu_pairs_18-23_verified" / "pairs"
    amc_dir = next((cache_dir / "extracted" / "cyun9601_asfamc").rglob("02"))
    user = tmp_path / "data"
    (user / "mine" / "handshake_pair").mkdir(parents=True)
    (user / "mine" / "hug").mkdir()
    (user / "mine" / "asf").mkdir()
    shutil.copy(pairs_dir / "18_01.bvh", user / "mine" / "handshake_pair" / "first.bvh")
    shutil.copy(pairs_dir / "19_01.bvh", user / "mine" / "handshake_pair" / "second.bvh")
    shutil.copy(pairs_dir / "22_07.bvh", user / "mine" / "hug" / "A.bvh")
    shutil.copy(pairs_dir / "23_07.bvh", user / "mine" / "hug" / "B.bvh")
    shutil.copy(pairs_dir / "22_08.bvh", user / "mine" / "my_walk.bvh")
    shutil.copy(amc_dir / "02.asf", user / "mine" / "asf" / "02.asf")
    shutil.copy(amc_dir / "02_03.amc", user / "mine" / "asf" / "02_03.amc")
    takes = find_takes(user, tmp_path / "cache")
    ids = sorted(t.take_id for t in takes)
    assert ids == ["02_03", "handshake_pair:a", "handshake_pair:b", "hug:a", "hug:b", "my_walk"]
    found = {p.id: p for p in pairs(takes)}
    assert set(found) == {"handshake_pair", "hug"}
    assert found["handshake_pair"].a.path.name == "first.bvh"
    assert split_of("hug:a") == split_of("hug:b")
    walk = next(t for t in takes if t.take_id == "my_walk").load()
    assert walk.fps == 120.0 and walk.meta["dropped_tpose"]  # detected from the data
    amc = next(t for t in takes if t.take_id == "02_03")
    assert amc.format == "amc" and amc.text == "run/jog" and amc.load().num_frames > 100
