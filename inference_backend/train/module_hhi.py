"""Stage `module-hhi`: the human-human Meta-Interaction module on the frozen prior.

Data: the two-person takes of the train split (`data.dataset.load_pairs`), each person in
turn as the reactor with the other as the partner, plus left-right mirrored copies of both.
A sample is one reactor window (lead + 2 history + 8 future frames) and the partner's last 16
frames up to the segment's first future frame. The loss is the prior's own (x0-prediction of
the true future's VAE latent + decoded-feature terms) with the module in the loop; the prior
stays frozen and its hash is checked at every checkpoint.

    python -m inference_backend.train module-hhi [--steps N] [--max-minutes M] [--export] [--resume]

Ablations (ReMoGen's table), never shipped: a config with "prior_mode": "finetune" trains the
prior's denoiser together with the module (joint fine-tuning, from the prior's weights), and
"scratch" trains a freshly initialised denoiser with the module on the two-person data alone
("no prior"). Both keep the shipped prior untouched and write a complete runtime folder
(`<out>/runtime/prior` with their own denoiser, `<out>/runtime/modules/hhi.*`) at every
checkpoint, for `python -m inference_backend.runtime.ablation --extra NAME=<out>/runtime`.
"""
from __future__ import annotations

import copy
import shutil
import sys
from dataclasses import asdict

import torch
from torch import nn

from ..models.mixing import Active, Modulator
from .module_common import (MODULE_DEFAULTS, SEG, ModuleStage, PairBank, ValSet, canonical_batch, denoising_loss,
                            fixed_draws, run_stage)

DEFAULT_CONFIG = {**MODULE_DEFAULTS, "name": "module-hhi", "steps": 3000, "prior_mode": "frozen"}


class Joint(nn.Module):
    """Module + a trainable denoiser, for the fine-tune / no-prior ablations."""

    def __init__(self, module: nn.Module, denoiser: nn.Module):
        super().__init__()
        self.module, self.denoiser = module, denoiser


class HHIStage(ModuleStage):
    kind = "hhi"

    def __init__(self, cfg, prior_dir, cache, device, generator, pairs=None, export_dir=None, out=None,
                 val_pairs=None):
        super().__init__(cfg, prior_dir, device, generator, export_dir, out)
        if pairs is None:
            from ..data.dataset import load_pairs

            pairs = load_pairs(cache, "train")
            val_pairs = load_pairs(cache, "val") if val_pairs is None else val_pairs
        self.bank = PairBank.build(pairs, cache, mirror=cfg.get("mirror", True))
        if val_pairs:
            self.val = self._val_set(PairBank.build(val_pairs, cache, mirror=False), cfg.get("val_samples", 512))
        self.mode = cfg.get("prior_mode", "frozen")
        self.module = self.model
        self.modulator = None
        if self.mode not in ("frozen", "finetune", "scratch"):
            raise ValueError(f"prior_mode must be frozen, finetune or scratch, got {self.mode!r}")
        if self.mode != "frozen":
            from ..models.denoiser import LatentDenoiser

            den = self.fp.prior.denoiser
            den = copy.deepcopy(den) if self.mode == "finetune" else LatentDenoiser(**den.config).to(device)
            den.requires_grad_(True)
            self.model = Joint(self.module, den)
            self.modulator = Modulator(den)
            self.runtime_dir = (out or prior_dir) / "runtime"

    def _val_set(self, bank: PairBank, n: int) -> ValSet:
        prior = self.fp.prior
        t, noise, g = fixed_draws(n, prior.diffusion.steps, prior.latent_dim)
        start = bank.sample_starts(n, g)
        transl, rot, text = (x.to(self.device) for x in bank.windows(start))
        history, future, frame = canonical_batch(prior, transl, rot)
        window = bank.partner_window(start + SEG, self.module_config.window).to(self.device)
        return ValSet(history, future, text, window, frame, t.to(self.device), noise.to(self.device))

    def loss(self, step: int):
        cfg, dev = self.cfg, self.device
        start = self.bank.sample_starts(cfg["batch"], self.generator)
        transl, rot, text = (x.to(dev) for x in self.bank.windows(start))
        history, future, frame = canonical_batch(self.fp.prior, transl, rot)
        window = self.bank.partner_window(start + SEG, self.module_config.window).to(dev)
        if cfg.get("partner_noise", 0.0) > 0:  # jitter the partner (per sample and joint), not the target
            window = window + cfg["partner_noise"] * torch.randn(window.shape, generator=self.generator).to(dev)
        cues = self.module.encode(window, frame)
        loss, logs, _ = denoising_loss(self.fp, [Active(self.module, cues, 1.0)], history, future, text,
                                       self.generator, cfg["weights"], cfg["text_dropout"], self.modulator)
        return loss, logs

    def on_checkpoint(self, ema, step: int) -> None:
        if self.mode == "frozen":
            return super().on_checkpoint(ema, step)
        from safetensors.torch import save_file

        from ..models.interaction import save_module
        from ..models.prior import prior_hash

        self.fp.assert_unchanged()
        prior = self.runtime_dir / "prior"
        prior.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "vae.safetensors"):
            shutil.copy(self.fp.path / name, prior / name)
        save_file({k: v.detach().cpu().contiguous() for k, v in ema.model.denoiser.state_dict().items()},
                  str(prior / "denoiser.safetensors"))
        save_module(ema.model.module, self.runtime_dir / "modules" / "hhi", asdict(self.module_config),
                    {"prior_hash": prior_hash(prior), "step": step, "stage": f"module-hhi ({self.mode} ablation)"})


def build(cfg, args, device, generator):
    return HHIStage(cfg, args.prior, args.cache, device, generator, export_dir=args.modules if args.export else None,
                    out=args.out)


def main(argv=None) -> int:
    run_stage("module-hhi", __doc__, DEFAULT_CONFIG, build, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
