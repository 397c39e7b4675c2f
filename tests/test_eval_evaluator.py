"""The text-motion evaluator: canonical features, shipped weights, and the must-show checks on the
real test split (real motion scores well, shuffled texts and broken motion score badly)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inference_backend.eval import metrics
from inference_backend.eval.evaluator import EVALUATOR_DIR, WINDOW, Evaluator, window_features
from inference_backend.eval.samples import mirror, take_windows
from inference_backend.eval.train_evaluator import contrastive_loss, corrupt
from tests.test_eval_physics import standing


def _walk(t=WINDOW):
    j = standing(t)
    j[:, :, 1] -= np.linspace(0, 2.0, t)[:, None]  # forward (-Y) at 1 m/s... 2 m in 2 s
    j[:, 7:12:2, 2] += 0.05 * np.sin(np.linspace(0, 12, t))[:, None]  # some foot motion
    return j


def test_window_features_ignore_where_the_window_is_in_the_world():
    j = _walk()
    yaw = 1.1
    rot = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    moved = j @ rot.T + np.array([3.0, -2.0, 0.0])
    a = window_features(torch.as_tensor(j[None]))
    b = window_features(torch.as_tensor(moved[None]))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    # The first frame's pelvis is at the origin (xy) and the hips lie along +x.
    first = a[0, 0, :66].reshape(22, 3)
    assert abs(first[0, 0]) < 1e-6 and abs(first[0, 1]) < 1e-6
    hips = first[1] - first[2]
    assert abs(hips[1]) < 1e-6 and hips[0] > 0
    with pytest.raises(ValueError, match=r"\(B, T, 22, 3\)"):
        window_features(torch.zeros(2, 60, 21, 3))


def test_mirror_is_an_involution_and_swaps_sides():
    j = _walk()
    np.testing.assert_allclose(mirror(mirror(j)), j)
    m = mirror(j)
    assert m[0, 1, 0] == pytest.approx(-j[0, 2, 0])  # new left hip = mirrored right hip


def test_contrastive_loss_prefers_aligned_embeddings_and_accepts_duplicate_texts():
    z = torch.nn.functional.normalize(torch.eye(3, 16) * 3 + 0.01, dim=-1)  # three distinct directions
    label = torch.tensor([0, 1, 2, 0, 1, 2])      # every text twice in the batch
    aligned = contrastive_loss(z[[0, 1, 2, 0, 1, 2]], z[:3], label, torch.tensor(20.0))
    wrong = contrastive_loss(z[[1, 2, 0, 1, 2, 0]], z[:3], label, torch.tensor(20.0))
    # Text -> motion spreads its target over the 2 motions of each text: its floor is log 2.
    assert aligned == pytest.approx(np.log(2) / 2, abs=0.02)
    assert wrong > 5.0


def test_corrupt_changes_every_window_and_leaves_the_input_alone():
    w = np.stack([_walk() for _ in range(40)]).astype(np.float32)
    before = w.copy()
    bad = corrupt(w, np.random.default_rng(0))
    np.testing.assert_array_equal(w, before)
    assert bad.shape == w.shape
    assert (np.abs(bad - w).reshape(40, -1).max(axis=1) > 1e-4).all()


def test_hard_negatives_raise_the_loss_only_when_they_look_like_the_text():
    z = torch.nn.functional.normalize(torch.eye(3, 16) * 3 + 0.01, dim=-1)
    label = torch.tensor([0, 1, 2])
    base = contrastive_loss(z, z, label, torch.tensor(20.0))
    far = contrastive_loss(z, z, label, torch.tensor(20.0), negative_z=-z)
    close = contrastive_loss(z, z, label, torch.tensor(20.0), negative_z=z.clone())
    assert far == pytest.approx(base.item(), abs=1e-3) and close > base + 0.2


def test_broken_anchor_is_the_right_answer_for_corrupted_motion():
    z = torch.nn.functional.normalize(torch.eye(4, 16) * 3 + 0.01, dim=-1)
    texts, anchor, label = z[:3], z[3], torch.tensor([0, 1, 2])
    on_anchor = contrastive_loss(texts, texts, label, torch.tensor(20.0), negative_z=z[3:4], broken_z=anchor)
    on_text = contrastive_loss(texts, texts, label, torch.tensor(20.0), negative_z=z[0:1], broken_z=anchor)
    assert on_anchor < 0.05 < on_text


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Evaluator()
    model.feat_std.fill_(2.0)
    model.save(tmp_path, {"training": {"steps": 1}})
    again = Evaluator.load(tmp_path)
    x = np.stack([_walk(), standing(WINDOW)])
    np.testing.assert_allclose(model.embed_motion(x), again.embed_motion(x), atol=1e-6)
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob("*.pkl"))
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["format"] = "something-else"
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="format"):
        Evaluator.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="no evaluator"):
        Evaluator.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="60 frames"):
        model.embed_motion(np.zeros((1, 30, 22, 3)))


def test_shipped_evaluator_loads_and_embeds_unit_vectors():
    model = Evaluator.load(EVALUATOR_DIR)
    z = model.embed_motion(np.stack([_walk(), standing(WINDOW)]))
    np.testing.assert_allclose(np.linalg.norm(z, axis=-1), 1.0, atol=1e-5)
    assert model.config["training"]["trained_on"] == "train split"


# ----------------------------------------------------------------------------- real test split
@pytest.fixture(scope="module")
def real(cache_dir):
    if not (cache_dir / "index.json").is_file():
        pytest.skip(f"no motion cache at {cache_dir}; build it with `python -m inference_backend.data build`")
    from inference_backend.data.dataset import read_index
    from inference_backend.eval.samples import load_takes

    model = Evaluator.load(EVALUATOR_DIR)
    test = take_windows(load_takes(cache_dir, "test"))
    train = take_windows(load_takes(cache_dir, "train"))
    pool = sorted({e["text"] for e in read_index(cache_dir).values()} - {""})
    return {"model": model, "test": test, "train_emb": model.embed_motion(train.joints),
            "pool": pool, "pool_emb": model.embed_texts(pool)}


def _scores(real, joints, texts, seed=0):
    emb = real["model"].embed_motion(joints)
    return (metrics.fid(real["train_emb"], emb),
            metrics.r_precision(emb, texts, real["pool"], real["pool_emb"], seed))


@pytest.mark.slow
def test_real_test_motion_is_close_to_train_and_retrieves_its_text(real):
    w = real["test"]
    fid_real, rp = _scores(real, w.joints, w.texts)
    noisy = w.joints + np.random.default_rng(0).normal(0, 0.03, w.joints.shape).astype(np.float32)
    frozen = np.repeat(w.joints[:, :1], WINDOW, axis=1)
    fid_noisy, _ = _scores(real, noisy, w.texts)
    fid_frozen, _ = _scores(real, frozen, w.texts)
    # Near zero relative to broken motion: the broken cases are many times further away.
    assert fid_noisy > 4 * fid_real and fid_frozen > 4 * fid_real, (fid_real, fid_noisy, fid_frozen)
    # Well above chance (1/32, 2/32, 3/32).
    assert rp[0] > 4 / 32 and rp[2] > 3 * 3 / 32, rp


@pytest.mark.slow
def test_shuffled_texts_drop_r_precision_to_about_chance(real):
    w = real["test"]
    _, rp_real = _scores(real, w.joints, w.texts)
    _, rp_shuffled = _scores(real, w.joints, metrics.derange_texts(w.texts, seed=1))
    # No window keeps its own description: about chance (1/32, 2/32, 3/32) or below, since the
    # window's real text may be among the distractors and then usually wins.
    assert rp_shuffled[2] < rp_real[2] / 3, (rp_real, rp_shuffled)
    np.testing.assert_array_less(rp_shuffled, np.array([1, 2, 3]) / 32 + 0.05)
