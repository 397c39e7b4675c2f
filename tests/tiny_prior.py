"""Test support: a tiny, randomly initialised motion prior written in the shipped format
(`assets/prior/` layout: config.json + safetensors), so the runtime, the module stages and the
hash check run end to end in seconds without the trained prior. Its normaliser is fitted on
synthetic motions, so decoded poses stay in a plausible range."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from inference_backend.body import canonical_rest
from inference_backend.models.denoiser import LatentDenoiser
from inference_backend.models.features import (FEATURE_DIM, FUTURE, HISTORY, Normalizer, body_offsets,
                                               extract_primitives)
from inference_backend.models.prior import CONFIG_FORMAT
from inference_backend.models.vae import MotionVAE
from inference_backend.train.synthetic import synthetic_motion

VAE = {"latent_dim": 16, "d_model": 32, "layers": 1, "heads": 2, "ff": 64, "dropout": 0.0}
DENOISER = {"latent_dim": 16, "text_dim": 384, "d_model": 32, "layers": 2, "heads": 2, "ff": 64, "dropout": 0.0}


def write_random_prior(path: str | Path, seed: int = 0) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    rest = canonical_rest()
    vae, den = MotionVAE(**VAE), LatentDenoiser(**DENOISER)
    feats = torch.cat([extract_primitives(synthetic_motion(s, seconds=2.0), rest, stride=4)[0] for s in range(4)])
    norm = Normalizer.fit(feats.reshape(-1, FEATURE_DIM))
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, str(path / "vae.safetensors"))
    save_file({k: v.contiguous() for k, v in den.state_dict().items()}, str(path / "denoiser.safetensors"))
    config = {"format": CONFIG_FORMAT, "history": HISTORY, "future": FUTURE, "fps": 30, "feature_dim": FEATURE_DIM,
              "vae": vae.config, "denoiser": den.config, "diffusion": {"steps": 10}, "guidance": 2.5,
              "latent_scale": 1.0, "normalizer": {"mean": norm.mean.tolist(), "std": norm.std.tolist()},
              "rest_offsets": np.asarray(body_offsets(rest)).tolist()}
    (path / "config.json").write_text(json.dumps(config))
    return path


def save_untrained_prior(path: str | Path, standing=None) -> Path:
    """A tiny untrained prior written by the exporter's own `save_prior` (seed 0)."""
    from inference_backend.models.prior import save_prior
    from inference_backend.train.synthetic import synthetic_motions

    torch.manual_seed(0)
    rest = canonical_rest()
    feats = torch.cat([extract_primitives(m, rest, stride=4)[0] for m in synthetic_motions(4, 2.0)])
    save_prior(path, MotionVAE(latent_dim=16, d_model=32, layers=1, heads=2, ff=64),
               LatentDenoiser(latent_dim=16, d_model=32, layers=1, heads=2, ff=64), Normalizer.fit(feats),
               1.0, body_offsets(rest), standing=standing)
    return Path(path)


def fake_embed(texts: list[str]) -> np.ndarray:
    """Deterministic unit vectors per text (the real sentence encoder takes seconds to load)."""
    out = []
    for t in texts:
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little"))
        v = rng.normal(size=384).astype(np.float32)
        out.append(v / np.linalg.norm(v))
    return np.stack(out)


def write_random_modules(path: str | Path, prior_dir: str | Path, seed: int = 0, film_scale: float = 0.05) -> Path:
    """HHI + HSI modules and an FWSR refiner for the tiny prior, saved as the training stages
    export them, with their zero-initialised outputs perturbed so they visibly act."""
    from dataclasses import asdict

    from inference_backend.models.fwsr import FrameRefiner, RefinerConfig
    from inference_backend.models.interaction import InteractionModule, ModuleConfig, save_module
    from inference_backend.models.prior import prior_hash

    path = Path(path)
    digest = prior_hash(prior_dir)
    torch.manual_seed(seed)
    small = {"d_cue": 32, "d_inner": 32, "heads": 2, "layers": [0, 1], "grid_shape": [16, 16, 8], "grid_cell": 0.25}
    for kind in ("hhi", "hsi"):
        module = InteractionModule(ModuleConfig(kind=kind, d_prior=DENOISER["d_model"], **small))
        with torch.no_grad():
            for block in module.blocks:
                block.film.weight.normal_(0, film_scale)
                block.film.bias.normal_(0, film_scale)
        save_module(module, path / kind, asdict(module.config), {"prior_hash": digest})
    refiner = FrameRefiner(RefinerConfig(latent_dim=VAE["latent_dim"], d_model=32, layers=1, heads=2,
                                         grid_shape=[16, 16, 8], grid_cell=0.25))
    with torch.no_grad():
        refiner.out.weight.normal_(0, film_scale)
    save_module(refiner, path / "fwsr", asdict(refiner.config), {"prior_hash": digest})
    return path


def tiny_runtime(path: str | Path, modules: bool = True, seed: int = 0):
    """A Runtime on a tiny random prior (and random modules + refiner), with the fake text
    encoder. Each `path` is loaded once per process (load_runtime caches)."""
    from inference_backend.runtime.model import load_runtime

    path = Path(path)
    if not (path / "prior" / "config.json").exists():
        write_random_prior(path / "prior", seed)
        if modules:
            write_random_modules(path / "modules", path / "prior", seed)
    rt = load_runtime(path)
    rt.embed_text = fake_embed
    return rt
