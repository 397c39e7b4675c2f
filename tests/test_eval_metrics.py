"""FID, R-precision (fixed batch 32, duplicate texts excluded), MM-Dist, diversity, multimodality."""
from __future__ import annotations

import numpy as np
import pytest

from inference_backend.eval import metrics


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_fid_is_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 8))
    b = rng.normal(size=(2000, 8))
    assert metrics.fid(a, a) == pytest.approx(0.0, abs=1e-6)
    assert metrics.fid(a, b) < 0.1
    assert metrics.fid(a, b + 1.0) == pytest.approx(8.0, rel=0.1)          # |mu diff|^2 = 8
    assert metrics.fid(a, b * 2.0) == pytest.approx(8.0, rel=0.1)          # 8 * (1 + 4 - 2*2)
    with pytest.raises(ValueError, match="FID"):
        metrics.fid(a[:, :4], b)


def _texts_and_pool(n_texts=40, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    pool = [f"text {i}" for i in range(n_texts)]
    return pool, _unit(rng.normal(size=(n_texts, dim)))


def test_r_precision_perfect_random_and_chance():
    pool, pool_emb = _texts_and_pool()
    rng = np.random.default_rng(1)
    idx = rng.integers(0, len(pool), 600)
    texts = [pool[i] for i in idx]
    perfect = metrics.r_precision(pool_emb[idx], texts, pool, pool_emb, seed=0)
    np.testing.assert_allclose(perfect, [1.0, 1.0, 1.0])
    random = metrics.r_precision(_unit(rng.normal(size=(600, 16))), texts, pool, pool_emb, seed=0)
    np.testing.assert_allclose(random, [1 / 32, 2 / 32, 3 / 32], atol=0.03)
    # Same seed, same answer; a constant model (all ties) scores zero, not one.
    noise = _unit(np.random.default_rng(9).normal(size=(600, 16)))
    assert (metrics.r_precision(noise, texts, pool, pool_emb, seed=4)
            == metrics.r_precision(noise, texts, pool, pool_emb, seed=4)).all()
    const = np.tile(pool_emb[:1], (len(pool), 1))
    assert metrics.r_precision(const[idx], texts, pool, const, seed=0).tolist() == [0.0, 0.0, 0.0]


def test_r_precision_never_uses_the_true_text_as_a_distractor():
    # A motion sitting exactly on its text: any duplicate of that text among the distractors
    # would tie and (ties count against) drop it below top-1. Many windows share each text.
    pool, pool_emb = _texts_and_pool(n_texts=32)
    texts = [pool[i % 3] for i in range(300)]
    emb = np.stack([pool_emb[i % 3] for i in range(300)])
    np.testing.assert_allclose(metrics.r_precision(emb, texts, pool, pool_emb, seed=5), [1, 1, 1])


def test_r_precision_needs_a_pool_of_32_distinct_texts():
    pool, pool_emb = _texts_and_pool(n_texts=20)
    with pytest.raises(ValueError, match="32 distinct texts"):
        metrics.r_precision(pool_emb[:5], pool[:5], pool, pool_emb, seed=0)
    pool, pool_emb = _texts_and_pool(n_texts=40)
    with pytest.raises(ValueError, match="missing"):
        metrics.r_precision(pool_emb[:1], ["unknown text"], pool, pool_emb, seed=0)
    with pytest.raises(ValueError, match="distinct"):
        metrics.r_precision(pool_emb[:1], pool[:1], pool + pool[:1], np.vstack([pool_emb, pool_emb[:1]]), seed=0)


def test_mm_dist_diversity_multimodality():
    rng = np.random.default_rng(2)
    a = _unit(rng.normal(size=(100, 16)))
    assert metrics.mm_dist(a, a) == 0.0
    assert metrics.mm_dist(a, -a) == pytest.approx(2.0)
    assert metrics.diversity(np.zeros((50, 4)), seed=0) == 0.0
    # Two far clusters: about half of the random pairs straddle them.
    two = np.concatenate([np.zeros((50, 4)), np.full((50, 4), 5.0)])
    assert metrics.diversity(two, seed=0) == pytest.approx(10.0 * 0.5, rel=0.2)
    assert metrics.diversity(two, seed=0) == metrics.diversity(two, seed=0)
    groups = metrics.group_by_text(two, ["a"] * 50 + ["b"] * 50)
    assert [len(g) for g in groups] == [50, 50]
    assert metrics.multimodality(groups, seed=0) == 0.0
    assert np.isnan(metrics.multimodality([np.zeros((1, 4))], seed=0))


def test_derange_texts_moves_every_text_and_keeps_frequencies():
    texts = ["walk"] * 50 + ["run"] * 10 + ["jump"] * 5
    out = metrics.derange_texts(texts, seed=0)
    assert all(a != b for a, b in zip(texts, out))
    assert sorted(np.unique(out, return_counts=True)[1]) == [5, 10, 50]
    assert out == metrics.derange_texts(texts, seed=0)
    with pytest.raises(ValueError):
        metrics.derange_texts(["walk"] * 3, seed=0)


def test_mean_ci():
    mean, ci = metrics.mean_ci([1.0, 2.0, 3.0, float("nan")])
    assert mean == 2.0 and ci == pytest.approx(1.96 * np.std([1, 2, 3]) / np.sqrt(3))
