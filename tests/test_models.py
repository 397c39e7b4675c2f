"""Prior networks and training: shapes, a training step that learns, exact resume, export hash.

Everything runs tiny models (configs tiny_*.json) on synthetic motions from our FK.
"""
from __future__ import annotations

import shutil

import pytest
import torch

from inference_backend.models.denoiser import LatentDenoiser
from inference_backend.models.diffusion import LatentDiffusion
from inference_backend.models.features import FEATURE_DIM, FUTURE, HISTORY
from inference_backend.models.prior import MotionPrior, prior_hash
from inference_backend.models.vae import MotionVAE
from inference_backend.train.__main__ import load_config
from inference_backend.train.checkpoint import read_checkpoint
from inference_backend.train.export import export_prior
from inference_backend.train.loop import run
from inference_backend.train.prior_denoiser import DenoiserStage
from inference_backend.train.prior_vae import VAEStage
from inference_backend.train.synthetic import synthetic_motions

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def motions():
    return synthetic_motions(6, seconds=3.0)


def vae_stage(motions, cache_dir, seed=0):
    cfg = load_config("tiny_vae.json")
    return cfg, VAEStage(cfg, "synthetic", cache_dir, CPU, torch.Generator().manual_seed(seed), motions=motions)


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory, motions, cache_dir):
    out = tmp_path_factory.mktemp("vae")
    torch.manual_seed(0)
    cfg, stage = vae_stage(motions, cache_dir)
    run(stage, dict(cfg, steps=5), out, stage.generator, resume=False, quiet=True)
    return out


def den_stage(motions, cache_dir, vae_dir, seed=0):
    cfg = load_config("tiny_denoiser.json")
    g = torch.Generator().manual_seed(seed)
    return cfg, DenoiserStage(cfg, "synthetic", cache_dir, CPU, g, vae_dir, motions=motions)


def test_vae_shapes():
    vae = MotionVAE(latent_dim=16, d_model=32, layers=1, heads=2, ff=64)
    h, f = torch.randn(5, HISTORY, FEATURE_DIM), torch.randn(5, FUTURE, FEATURE_DIM)
    mu, logvar = vae.encode(h, f)
    assert mu.shape == logvar.shape == (5, 16)
    assert vae.decode(mu, h).shape == (5, FUTURE, FEATURE_DIM)
    out, _, _ = vae(h, f)
    assert out.shape == (5, FUTURE, FEATURE_DIM)


def test_denoiser_shapes_null_text_and_sampling():
    den = LatentDenoiser(latent_dim=16, d_model=32, layers=1, heads=2, ff=64).eval()
    z, t = torch.randn(4, 16), torch.tensor([0, 3, 9, 5])
    text, hist = torch.randn(4, 384), torch.randn(4, HISTORY, FEATURE_DIM)
    keep = torch.tensor([True, True, False, False])
    assert den(z, t, text, hist, keep).shape == (4, 16)
    # a dropped text ignores the embedding entirely
    a = den(z, t, text, hist, torch.zeros(4, dtype=torch.bool))
    b = den(z, t, torch.randn(4, 384), hist, torch.zeros(4, dtype=torch.bool))
    assert torch.allclose(a, b)
    diff = LatentDiffusion(10)
    s1 = diff.sample(den, text, hist, 16, guidance=2.5, generator=torch.Generator().manual_seed(1))
    s2 = diff.sample(den, text, hist, 16, guidance=2.5, generator=torch.Generator().manual_seed(1))
    assert s1.shape == (4, 16) and torch.equal(s1, s2) and torch.isfinite(s1).all()


def test_diffusion_schedule_reaches_noise():
    ab = LatentDiffusion(10).alphas_cumprod
    assert len(ab) == 10 and ab[0] > 0.9 and ab[-1] < 0.01 and (ab[1:] < ab[:-1]).all()


def _loss_on_fixed_batch(stage, state):
    stage.generator.set_state(state)
    torch.manual_seed(123)
    return stage.loss(0)[0]


@pytest.mark.parametrize("which", ["vae", "denoiser"])
def test_one_training_step_reduces_loss_on_a_fixed_batch(which, motions, cache_dir, vae_dir):
    _, stage = vae_stage(motions, cache_dir) if which == "vae" else den_stage(motions, cache_dir, vae_dir)
    state = stage.generator.get_state()
    opt = torch.optim.Adam([p for p in stage.model.parameters() if p.requires_grad], lr=1e-3)
    before = _loss_on_fixed_batch(stage, state)
    opt.zero_grad()
    before.backward()
    opt.step()
    after = _loss_on_fixed_batch(stage, state)
    assert float(after.detach()) < float(before.detach())


def test_checkpoint_resume_gives_identical_next_step(tmp_path, motions, cache_dir):
    cfg = load_config("tiny_vae.json")
    cfg["steps"], cfg["checkpoint_every"] = 4, 3
    torch.manual_seed(0)
    _, straight = vae_stage(motions, cache_dir)
    run(straight, cfg, tmp_path / "a", straight.generator, resume=False, quiet=True)
    torch.manual_seed(0)
    _, first = vae_stage(motions, cache_dir)
    run(first, cfg, tmp_path / "b", first.generator, resume=False, quiet=True, stop_at=3)
    assert read_checkpoint(tmp_path / "b")[0]["step"] == 3
    torch.manual_seed(99)  # a resumed process starts from different global RNG state
    _, resumed = vae_stage(motions, cache_dir, seed=7)
    run(resumed, cfg, tmp_path / "b", resumed.generator, resume=True, quiet=True)
    meta_a, a = read_checkpoint(tmp_path / "a")
    meta_b, b = read_checkpoint(tmp_path / "b")
    assert meta_a["step"] == meta_b["step"] == 4
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, differ
    log_a = (tmp_path / "a" / "log.jsonl").read_text().splitlines()[-1]
    log_b = (tmp_path / "b" / "log.jsonl").read_text().splitlines()[-1]
    drop_time = lambda s: {k: v for k, v in __import__("json").loads(s).items() if k != "time_s"}  # noqa: E731
    assert drop_time(log_a) == drop_time(log_b)


def test_export_and_prior_hash(tmp_path, motions, cache_dir, vae_dir):
    cfg, stage = den_stage(motions, cache_dir, vae_dir)
    cfg["steps"] = 2
    run(stage, cfg, tmp_path / "den", stage.generator, resume=False, quiet=True)
    h1 = export_prior(vae_dir, tmp_path / "den", tmp_path / "prior")
    assert len(h1) == 64 and h1 == prior_hash(tmp_path / "prior")
    # the hash depends on tensors, not on file layout: re-exporting gives the same hash
    h2 = export_prior(vae_dir, tmp_path / "den", tmp_path / "prior_again")
    assert h2 == h1
    prior = MotionPrior.load(tmp_path / "prior")
    assert prior.latent_dim == 16 and prior.diffusion.steps == 10
    # and it changes when any weight changes
    from safetensors.torch import load_file, save_file

    shutil.copytree(tmp_path / "prior", tmp_path / "edited")
    w = load_file(str(tmp_path / "edited" / "denoiser.safetensors"))
    key = sorted(w)[0]
    w[key] = w[key] + 1e-3
    save_file(w, str(tmp_path / "edited" / "denoiser.safetensors"))
    assert prior_hash(tmp_path / "edited") != h1


def test_prior_load_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        MotionPrior.load(tmp_path)
