"""Text-to-motion metrics in the evaluator's embedding space (Guo et al. 2022), made reproducible.

All embeddings are the evaluator's unit vectors (`evaluator.py`); distances are Euclidean.

* **FID**: Fréchet distance between Gaussians fitted to two sets of motion embeddings.
* **R-precision (top-1/2/3)**: for every motion window, its own text and `R_BATCH - 1` = 31
  distractor texts are ranked by distance to the motion embedding; top-k is the fraction of
  windows whose own text ranks within the first k. The batch is *fixed at 32* (Guo's value;
  R-precision falls as the batch grows, so numbers with other batch sizes are not comparable),
  the distractors are drawn without replacement from a pool of *distinct* texts with a fixed
  seed, and every text equal to the window's own is excluded from its distractors (CMU
  descriptions repeat across takes and windows; a duplicate would be a second correct answer).
  Chance is k/32: 3.1 %, 6.3 %, 9.4 %.
* **MM-Dist**: mean distance between each motion and its own text.
* **Diversity**: mean distance between `DIVERSITY_PAIRS` = 300 random pairs of motions (Guo's
  300), drawn with a fixed seed.
* **Multimodality**: mean distance between pairs of motions generated for the *same* condition
  (`MM_PAIRS` = 10 pairs per condition, Guo's value); for real data we report the same number
  over windows that share a text, as a reference.

`mean_ci` turns replications into mean ± 95 % interval (1.96 σ / √n, as Guo and DART).
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

R_BATCH = 32
DIVERSITY_PAIRS = 300
MM_PAIRS = 10


def _emb(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise ValueError(f"{name} must be a finite (N, D) array, got shape {x.shape}")
    return x


def fid(a, b) -> float:
    """Fréchet distance between the Gaussians of two embedding sets (N, D), (M, D)."""
    a, b = _emb(a, "a"), _emb(b, "b")
    if a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"FID needs two sets of >= 2 embeddings of one size, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # near-singular product: regularise, as Guo's code does
        eps = 1e-6 * np.eye(a.shape[1])
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def r_precision(motion_emb, texts: list[str], pool_texts: list[str], pool_emb, seed: int,
                batch: int = R_BATCH, top_k: int = 3) -> np.ndarray:
    """Top-1..top_k R-precision (fractions) of motions against their texts (see module doc).

    motion_emb (N, D) with texts[i] the description of motion i; pool_texts / pool_emb (P, D):
    the distinct texts distractors are drawn from (each motion's own text must be among them).
    """
    motion_emb, pool_emb = _emb(motion_emb, "motion_emb"), _emb(pool_emb, "pool_emb")
    if len(texts) != len(motion_emb):
        raise ValueError(f"{len(texts)} texts for {len(motion_emb)} motions")
    if len(set(pool_texts)) != len(pool_texts) or len(pool_texts) != len(pool_emb):
        raise ValueError("pool_texts must be distinct and match pool_emb row for row")
    if len(pool_texts) < batch:
        raise ValueError(f"R-precision with a batch of {batch} needs >= {batch} distinct texts, "
                         f"the pool has {len(pool_texts)}")
    where = {t: i for i, t in enumerate(pool_texts)}
    missing = sorted(set(texts) - set(where))
    if missing:
        raise ValueError(f"texts missing from the distractor pool: {missing[:3]}")
    rng = np.random.default_rng(seed)
    hits = np.zeros(top_k)
    for m, text in zip(motion_emb, texts):
        own = where[text]
        others = rng.choice(len(pool_texts) - 1, size=batch - 1, replace=False)
        others = others + (others >= own)           # skip the motion's own text
        cand = np.concatenate([[own], others])
        dist = np.linalg.norm(pool_emb[cand] - m, axis=-1)
        rank = int((dist[1:] <= dist[0]).sum())     # ties count against: a constant model scores 0
        hits += rank < np.arange(1, top_k + 1)
    return hits / max(len(texts), 1)


def mm_dist(motion_emb, text_emb) -> float:
    """Mean distance between each motion and its own text embedding (row i with row i)."""
    motion_emb, text_emb = _emb(motion_emb, "motion_emb"), _emb(text_emb, "text_emb")
    if motion_emb.shape != text_emb.shape:
        raise ValueError(f"motion_emb {motion_emb.shape} and text_emb {text_emb.shape} must match")
    return float(np.linalg.norm(motion_emb - text_emb, axis=-1).mean())


def diversity(emb, seed: int, pairs: int = DIVERSITY_PAIRS) -> float:
    """Mean distance between `pairs` random pairs of distinct embeddings (fixed seed)."""
    emb = _emb(emb, "emb")
    if len(emb) < 2:
        raise ValueError("diversity needs at least 2 embeddings")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(emb), pairs)
    j = (i + rng.integers(1, len(emb), pairs)) % len(emb)  # j != i
    return float(np.linalg.norm(emb[i] - emb[j], axis=-1).mean())


def multimodality(groups: list, seed: int, pairs: int = MM_PAIRS) -> float:
    """Mean distance between `pairs` random pairs within each group of >= 2 embeddings (one group
    per condition), averaged over groups; NaN when no group has two members."""
    rng = np.random.default_rng(seed)
    means = []
    for g in groups:
        g = _emb(g, "group")
        if len(g) < 2:
            continue
        i = rng.integers(0, len(g), pairs)
        j = (i + rng.integers(1, len(g), pairs)) % len(g)
        means.append(np.linalg.norm(g[i] - g[j], axis=-1).mean())
    return float(np.mean(means)) if means else float("nan")


def group_by_text(emb, texts: list[str]) -> list[np.ndarray]:
    """Embeddings grouped by identical text, in first-seen order."""
    emb = _emb(emb, "emb")
    order: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        order.setdefault(t, []).append(i)
    return [emb[idx] for idx in order.values()]


def derange_texts(texts: list[str], seed: int) -> list[str]:
    """Swap descriptions between text groups: a random permutation of the distinct texts with no
    fixed point, applied to every item. Unlike shuffling items (which often hands a window a
    duplicate of its own frequent text, e.g. "walk"), no item keeps its own description, and
    every text keeps its frequency. The sanity check for R-precision."""
    distinct = sorted(set(texts))
    if len(distinct) < 2:
        raise ValueError("deranging texts needs at least 2 distinct texts")
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(len(distinct))
        if (perm != np.arange(len(distinct))).all():
            break
    swap = {t: distinct[p] for t, p in zip(distinct, perm)}
    return [swap[t] for t in texts]


def mean_ci(values) -> tuple[float, float]:
    """Mean and 95 % interval half-width (1.96 σ / √n) over replications, ignoring NaN."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(1.96 * v.std() / np.sqrt(len(v)))
