"""The real-vs-generated pair pictures: layout on synthetic joints, and the whole path
(runtime generation -> PNG) on a synthetic pair with the tiny random runtime."""
from __future__ import annotations

import numpy as np
import pytest

from inference_backend.body import canonical_rest
from inference_backend.eval import pictures
from inference_backend.train.synthetic import synthetic_motion

from .tiny_prior import tiny_runtime


def test_instants_every_half_second_up_to_the_limit():
    assert pictures.instants(76, 30.0).tolist() == [0, 15, 30, 45, 60, 75]      # a 2.5 s take
    assert pictures.instants(1132, 30.0).tolist() == list(range(0, 121, 15))    # capped at 4 s
    assert pictures.instants(1, 30.0).tolist() == [0]
    with pytest.raises(ValueError, match="at least one frame"):
        pictures.instants(0, 30.0)


def test_sheet_has_a_row_per_instant_and_refuses_bad_joints(tmp_path):
    import matplotlib.image as mpimg

    rest = canonical_rest()
    partner, reactor = (synthetic_motion(s, seconds=1.1).joints(rest) for s in (0, 1))
    generated = reactor + np.float32([0.5, 0.0, 0.0])
    short = pictures.pair_sheet(partner[:16], reactor[:16], generated[:16], 30.0, tmp_path / "a.png", "t")
    full = pictures.pair_sheet(partner, reactor, generated, 30.0, tmp_path / "b.png", "t")
    h_short, w_short = mpimg.imread(short).shape[:2]
    h_full, w_full = mpimg.imread(full).shape[:2]
    assert w_short == w_full and h_full > 1.3 * h_short   # 3 rows (0, .5, 1 s) against 2 rows (0, .5 s)
    with pytest.raises(ValueError, match="generated must be finite"):
        pictures.pair_sheet(partner, reactor, generated[:, :21], 30.0, tmp_path / "c.png")
    bad = generated.copy()
    bad[3, 4, 2] = np.nan
    with pytest.raises(ValueError, match="generated must be finite"):
        pictures.pair_sheet(partner, reactor, bad, 30.0, tmp_path / "c.png")


def test_pair_picture_with_the_tiny_runtime(tmp_path):
    rt = tiny_runtime(tmp_path / "runtime")
    rest = canonical_rest()
    a, b = synthetic_motion(0, seconds=1.2), synthetic_motion(1, seconds=1.2)
    a.take_id, b.take_id, b.text = "x/18_01", "x/19_01", "shakes hands"
    b.transl = b.transl + np.array([6.0, 0.0, 0.0])   # far from where the default start rule would put it
    partner, real, generated = pictures.react(a, b, rest, rt, seed=0, seconds=1.0)
    assert partner.shape == real.shape == generated.shape == (31, 22, 3)
    np.testing.assert_allclose(partner, a.joints(rest)[:31])
    np.testing.assert_allclose(real, b.joints(rest)[:31])
    assert np.linalg.norm(generated[0, 0, :2] - real[0, 0, :2]) < 1.0   # starts at the real reactor's pose
    assert np.abs(generated[-1] - real[-1]).max() > 1e-3          # and then does its own thing
    path = pictures.pair_picture(a, b, rest, rt, tmp_path / "docs", seconds=1.0)
    assert path.name == "pairs_18_01_19_01.png" and path.stat().st_size > 10_000


def test_pick_pairs_finds_either_role_and_names_missing_ones():
    a, b = synthetic_motion(0, seconds=0.5), synthetic_motion(1, seconds=0.5)
    a.take_id, b.take_id = "cgspeed/18_01", "cgspeed/19_01"
    assert pictures.pick_pairs([(a, b)], [("19_01", "18_01")]) == [(b, a)]
    with pytest.raises(KeyError, match="60_13"):
        pictures.pick_pairs([(a, b)], [("60_13", "61_13")])
