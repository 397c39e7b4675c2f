"""Stage `prior-denoiser`: train the latent denoiser on top of the frozen VAE, with DART's
scheduled training.

Each batch is a run of K consecutive primitives of a take. Primitive 0's history is ground
truth. For primitive k > 0 the history is, with probability p, the last frames the model itself
just predicted for primitive k-1 (decoded from its x0 prediction, mapped back to world and
re-canonicalised), else ground truth; the ground-truth future is re-expressed in the canonical
frame of whichever history was used. p follows the schedule: 0 for the first `supervised`
fraction of training, then rises linearly to 1 over the `ramp` fraction, then stays 1. This
teaches the model to recover from its own errors, so long rollouts do not drift.

Loss = w_latent * |x0_hat - z0|^2 + rec + w_joints * joints + w_fk * fk + w_delta * delta,
where the feature terms decode x0_hat through the frozen decoder.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..models.denoiser import LatentDenoiser
from ..models.diffusion import LatentDiffusion
from ..models.features import (FUTURE, HISTORY, Normalizer, features_to_pose, primitive_features,
                               to_world)
from ..models.vae import MotionVAE
from .checkpoint import prefixed, read_checkpoint
from .data import TakeBank, load_split, mirror_motions
from .losses import primitive_losses


def load_vae_checkpoint(directory: str | Path, device: torch.device):
    """(frozen EMA VAE, Normalizer, rest offsets (22, 3) tensor) from a prior-vae checkpoint."""
    meta, tensors = read_checkpoint(directory)
    vae = MotionVAE(**meta["config"]["model"])
    vae.load_state_dict(prefixed(tensors, "ema"))
    vae = vae.to(device).eval().requires_grad_(False)
    norm = Normalizer(tensors["extra.norm.mean"], tensors["extra.norm.std"]).to(device)
    offsets = torch.tensor(meta["state"]["rest_offsets"], dtype=torch.float32, device=device)
    return vae, norm, offsets, meta


def rollout_probability(step: int, cfg: dict) -> float:
    s = cfg["schedule"]
    start, ramp = s["supervised"] * cfg["steps"], s["ramp"] * cfg["steps"]
    if step < start:
        return 0.0
    return min(1.0, (step - start) / max(ramp, 1.0))


class DenoiserStage:
    def __init__(self, cfg: dict, data: str, cache: Path, device: torch.device, generator: torch.Generator,
                 vae_dir: str | Path, motions=None):
        self.cfg, self.device, self.generator = cfg, device, generator
        self.vae, self.norm, self.offsets, self.vae_meta = load_vae_checkpoint(vae_dir, device)
        self.vae_dir = str(vae_dir)
        self.k = cfg["primitives_per_sample"]
        motions = motions if motions is not None else load_split(data, cache, "train")
        if cfg.get("mirror", True):
            motions = motions + mirror_motions(motions)
        self.bank = TakeBank.build(motions, 1 + HISTORY + self.k * FUTURE, cache)
        self.diffusion = LatentDiffusion(cfg["diffusion_steps"])
        latent_dim = self.vae.latent_dim
        self.model = LatentDenoiser(latent_dim=latent_dim, **cfg["model"]).to(device)
        self.latent_scale = torch.tensor(self.fit_latent_scale(cfg.get("stats_batches", 8)))

    @torch.no_grad()
    def fit_latent_scale(self, batches: int) -> float:
        """1 / std of the VAE means, so the diffusion sees unit-variance latents."""
        mus = []
        for _ in range(batches):
            transl, rot, _, _ = self.bank.sample(256, self.generator)
            feats, _ = primitive_features(transl[:, : 1 + HISTORY + FUTURE].to(self.device),
                                          rot[:, : 1 + HISTORY + FUTURE].to(self.device), self.offsets)
            x = self.norm.normalize(feats)
            mus.append(self.vae.encode(x[:, :HISTORY], x[:, HISTORY:])[0])
        return float(1.0 / torch.cat(mus).std().clamp_min(1e-4))

    def loss(self, step: int):
        cfg, dev, gen = self.cfg, self.device, self.generator
        p = rollout_probability(step, cfg)
        transl, rot, text, _ = self.bank.sample(cfg["batch"], gen)
        transl, rot, text = transl.to(dev), rot.to(dev), text.to(dev)
        b, scale, w = transl.shape[0], float(self.latent_scale), cfg["weights"]
        prev = None
        total, logs = 0.0, {}
        for k in range(self.k):
            a = k * FUTURE
            wt, wr = transl[:, a:a + 1 + HISTORY + FUTURE], rot[:, a:a + 1 + HISTORY + FUTURE]
            if prev is not None:
                use = (torch.rand(b, generator=gen) < p).to(dev)
                wt = torch.cat([torch.where(use[:, None, None], prev[0], wt[:, :1 + HISTORY]), wt[:, 1 + HISTORY:]], 1)
                wr = torch.cat([torch.where(use[:, None, None, None, None], prev[1], wr[:, :1 + HISTORY]),
                                wr[:, 1 + HISTORY:]], 1)
            feats, frame = primitive_features(wt, wr, self.offsets)
            x = self.norm.normalize(feats)
            history, future = x[:, :HISTORY], x[:, HISTORY:]
            with torch.no_grad():
                z0 = self.vae.encode(history, future)[0] * scale
            t = torch.randint(self.diffusion.steps, (b,), generator=gen).to(dev)
            noise = torch.randn(z0.shape, generator=gen).to(dev)
            keep = (torch.rand(b, generator=gen) >= cfg["text_dropout"]).to(dev)
            x0 = self.model(self.diffusion.q_sample(z0, t, noise), t, text, history, keep)
            pred = self.vae.decode(x0 / scale, history)
            parts = primitive_losses(pred, future, history, self.norm, self.offsets)
            latent = ((x0 - z0) ** 2).mean()
            loss = (w["latent"] * latent + parts["rec"] + w["joints"] * parts["joints"]
                    + w["fk"] * parts["fk_consistency"] + w["delta"] * parts["delta_consistency"])
            total = total + loss / self.k
            for name, v in {"latent": latent, **parts}.items():
                logs[name] = logs.get(name, 0.0) + float(v.detach()) / self.k
            if p > 0 and k + 1 < self.k:
                with torch.no_grad():  # the model's own last frames become the next history
                    seq = self.norm.denormalize(pred[:, -(1 + HISTORY):])
                    t_loc, r_loc, _ = features_to_pose(seq)
                    prev = to_world(frame, t_loc, r_loc)
        logs["p_rollout"] = p
        return total, logs

    def extra(self) -> dict:
        return {"latent_scale": self.latent_scale.reshape(1)}

    def state(self) -> dict:
        return {"vae_checkpoint": self.vae_dir, "vae_step": self.vae_meta["step"]}

    def restore(self, extra: dict, state: dict) -> None:
        self.latent_scale = extra["latent_scale"].reshape(())

    def on_checkpoint(self, ema, step: int) -> None:
        pass
