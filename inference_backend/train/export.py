"""Export trained checkpoints to the shipped prior folder (EMA weights only, safetensors)."""
from __future__ import annotations

from pathlib import Path

from ..models.denoiser import LatentDenoiser
from ..models.prior import prior_hash, save_prior
from .checkpoint import prefixed, read_checkpoint
from .prior_denoiser import load_vae_checkpoint

__all__ = ["export_prior", "prior_hash"]


def export_prior(vae_dir: str | Path, denoiser_dir: str | Path, out: str | Path, guidance: float = 2.5,
                 standing=None) -> str:
    """Write vae.safetensors, denoiser.safetensors and config.json; returns the prior hash.
    `standing`: the train split's standing pose (`train_standing_pose`) for the config, or None."""
    vae, norm, offsets, vmeta = load_vae_checkpoint(vae_dir, "cpu")
    dmeta, dt = read_checkpoint(denoiser_dir)
    den = LatentDenoiser(latent_dim=vae.latent_dim, **dmeta["config"]["model"])
    den.load_state_dict(prefixed(dt, "ema"))
    training = {"vae_steps": vmeta["step"], "denoiser_steps": dmeta["step"],
                "vae_config": vmeta["config"], "denoiser_config": dmeta["config"]}
    return save_prior(out, vae, den, norm, float(dt["extra.latent_scale"].reshape(())), offsets,
                      dmeta["config"]["diffusion_steps"], guidance, training, standing)


def train_standing_pose(cache: str | Path):
    """(22, 3, 3) the standing pose of the cache's train split (`data.standing`)."""
    from ..data.dataset import load_motions
    from ..data.standing import standing_pose

    return standing_pose(load_motions(cache, split="train"))
