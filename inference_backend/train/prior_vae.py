"""Stage `prior-vae`: train the primitive VAE on canonicalised primitives of real mocap.

Loss = rec + w_joints * joints + w_fk * fk_consistency + w_delta * delta_consistency + w_kl * KL.
The feature normaliser (mean/std) is fitted here on the train split and travels with the VAE.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..body import canonical_rest
from ..models.features import HISTORY, PRIMITIVE, Normalizer, body_offsets, primitive_features
from ..models.vae import MotionVAE
from .data import TakeBank, load_split, mirror_motions
from .losses import primitive_losses


def fit_normalizer(bank: TakeBank, offsets: torch.Tensor, windows: int, generator: torch.Generator) -> Normalizer:
    index = torch.randperm(len(bank), generator=generator)[:windows]
    feats = torch.cat([primitive_features(*bank.windows(chunk)[:2], offsets)[0]
                       for chunk in index.split(4096)])
    return Normalizer.fit(feats)


class VAEStage:
    def __init__(self, cfg: dict, data: str, cache: Path, device: torch.device, generator: torch.Generator,
                 motions=None):
        self.cfg, self.device, self.generator = cfg, device, generator
        self.rest = canonical_rest()
        self.offsets = body_offsets(self.rest).to(device)
        motions = motions if motions is not None else load_split(data, cache, "train")
        if cfg.get("mirror", True):
            motions = motions + mirror_motions(motions)
        self.bank = TakeBank.build(motions, 1 + PRIMITIVE, cache)
        self.model = MotionVAE(**cfg["model"]).to(device)
        self.norm = fit_normalizer(self.bank, body_offsets(self.rest), cfg.get("stats_windows", 20000),
                                   generator).to(device)

    # -- what the loop needs
    def batch(self):
        transl, rot, _, _ = self.bank.sample(self.cfg["batch"], self.generator)
        feats, _ = primitive_features(transl.to(self.device), rot.to(self.device), self.offsets)
        x = self.norm.normalize(feats)
        return x[:, :HISTORY], x[:, HISTORY:]

    def loss(self, step: int):
        history, future = self.batch()
        pred, mu, logvar = self.model(history, future)
        parts = primitive_losses(pred, future, history, self.norm, self.offsets)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1).mean()
        w = self.cfg["weights"]
        loss = (parts["rec"] + w["joints"] * parts["joints"] + w["fk"] * parts["fk_consistency"]
                + w["delta"] * parts["delta_consistency"] + w["kl"] * kl)
        return loss, {**parts, "kl": kl}

    def extra(self) -> dict:
        return {"norm.mean": self.norm.mean, "norm.std": self.norm.std}

    def state(self) -> dict:
        return {"rest_offsets": self.rest.body_offsets.tolist(), "texts": len(self.bank.texts),
                "windows": len(self.bank)}

    def restore(self, extra: dict, state: dict) -> None:
        self.norm.mean.copy_(extra["norm.mean"])
        self.norm.std.copy_(extra["norm.std"])

    def on_checkpoint(self, ema, step: int) -> None:
        pass
