"""Stage `fwsr`: the frame-wise segment refiner, with the prior and the modules frozen.

A sample is a segment plus a frame offset k in 0..7. The segment latent the refiner starts
from is what the frozen prior + modules predict for it: the x0 prediction from the true latent
noised to a random diffusion step (one modulated denoiser pass; a cheap stand-in for the full
10-step sample with the same kind of error). The refiner sees that latent, k, the history, the
partner's window ending at frame k of the segment (two-person samples) or nothing (scene
samples), and the ego-centric scene grid (empty for two-person samples). Targets: the true
segment latent and, through the frozen decoder, the true future frames — frame k counted
twice, since it is the one the runtime emits.

    python -m inference_backend.train fwsr [--steps N] [--max-minutes M] [--export] [--resume]
"""
from __future__ import annotations

import sys
from dataclasses import asdict

import torch
import torch.nn.functional as Fn

from ..models.features import FUTURE
from ..models.fwsr import FrameRefiner, RefinerConfig
from ..models.mixing import Active
from .losses import primitive_losses
from .module_common import SEG, FrozenPrior, PairBank, PriorChanged, SceneBank, canonical_batch, run_stage

DEFAULT_CONFIG = {
    "name": "fwsr", "refiner": {"d_model": 128, "layers": 2, "heads": 4, "window": 16, "partner_tokens": 2},
    "batch": 64, "steps": 1500, "lr": 3e-4, "lr_floor": 0.1, "warmup": 100, "weight_decay": 0.01, "grad_clip": 1.0,
    "ema_decay": 0.995, "text_dropout": 0.1, "mirror": True, "scene_fraction": 0.5, "chunk_frames": 240,
    "max_chunks": 200, "weights": {"latent": 1.0, "joints": 1.0, "frame": 1.0},
    "log_every": 10, "checkpoint_every": 250, "checkpoint_minutes": 3, "seed": 0,
}


class FWSRStage:
    def __init__(self, cfg, prior_dir, module_dir, cache, device, generator, pairs=None, motions=None,
                 export_dir=None, progress=True):
        from ..runtime.model import load_modules

        self.cfg, self.device, self.generator, self.export_dir = cfg, device, generator, export_dir
        self.fp = FrozenPrior(prior_dir, device)
        notes: list[str] = []
        self.modules, _ = load_modules(module_dir, device, self.fp.hash, notes) if module_dir else ({}, None)
        self.notes = notes
        if pairs is None:
            from ..data.dataset import load_pairs

            pairs = load_pairs(cache, "train")
        if motions is None:
            from ..data.dataset import load_motions

            motions = load_motions(cache, "train")
        self.pairs = PairBank.build(pairs, cache, mirror=cfg.get("mirror", True)) if pairs else None
        self.scenes = SceneBank.build(motions, cache, cfg["chunk_frames"], cfg.get("max_chunks"), cfg.get("seed", 0),
                                      progress=progress) if motions and cfg["scene_fraction"] > 0 else None
        self.config = RefinerConfig(latent_dim=self.fp.prior.latent_dim, **cfg["refiner"])
        self.model = FrameRefiner(self.config).to(device)
        self.grid = self.config.local_grid
        self.centres = self.grid.centres().to(device)

    # -------------------------------------------------------------- one half-batch
    def _segment_latent(self, history, future, text, entries):
        """(true latent, the frozen models' x0 estimate of it), both in VAE units."""
        prior, gen, dev = self.fp.prior, self.generator, self.device
        b = history.shape[0]
        with torch.no_grad():
            z0 = prior.vae.encode(history, future)[0]
            t = torch.randint(prior.diffusion.steps, (b,), generator=gen).to(dev)
            noise = torch.randn(z0.shape, generator=gen).to(dev)
            keep = (torch.rand(b, generator=gen) >= self.cfg["text_dropout"]).to(dev)
            denoiser = self.fp.modulator.bind(entries)
            x0 = denoiser(prior.diffusion.q_sample(z0 * prior.latent_scale, t, noise), t, text, history, keep)
        return z0, x0 / prior.latent_scale

    def _loss(self, history, future, frame, text, partner, occ, entries):
        prior, b = self.fp.prior, history.shape[0]
        z_true, z_est = self._segment_latent(history, future, text, entries)
        k = torch.randint(FUTURE, (b,), generator=self.generator).to(self.device)
        tokens = self.model.scene_tokens(occ, b)
        z = self.model(z_est, k, history, partner(k) if partner is not None else None, frame, tokens)
        pred = prior.vae.decode(z, history)
        parts = primitive_losses(pred, future, history, prior.normalizer, prior.offsets)
        rows = torch.arange(b, device=self.device)
        frame_k = Fn.smooth_l1_loss(pred[rows, k], future[rows, k])
        latent = ((z - z_true) ** 2).mean()
        with torch.no_grad():
            before = ((z_est - z_true) ** 2).mean()
        w = self.cfg["weights"]
        loss = w["latent"] * latent + parts["rec"] + w["joints"] * parts["joints"] + w["frame"] * frame_k
        return loss, {"latent": latent.detach(), "latent_before": before, "frame_k": frame_k.detach(),
                      **{k: v.detach() for k, v in parts.items()}}

    def _pair_batch(self, n):
        dev, bank = self.device, self.pairs
        start = bank.sample_starts(n, self.generator)
        transl, rot, text = (x.to(dev) for x in bank.windows(start))
        history, future, frame = canonical_batch(self.fp.prior, transl, rot)
        entries = []
        if "hhi" in self.modules:
            m = self.modules["hhi"]
            entries.append(Active(m, m.encode(bank.partner_window(start + SEG, m.config.window).to(dev), frame), 1.0))

        def partner(k):
            return bank.partner_window(start + SEG + k.cpu(), self.config.window).to(dev)

        occ = torch.zeros(n, *self.grid.shape, device=dev)
        return self._loss(history, future, frame, text, partner, occ, entries)

    def _scene_batch(self, n):
        dev, bank = self.device, self.scenes
        transl, rot, text, chunk = bank.sample(n, self.generator)
        transl, rot, text = transl.to(dev), rot.to(dev), text.to(dev)
        history, future, frame = canonical_batch(self.fp.prior, transl, rot)
        occ = bank.local(chunk, frame, self.grid, self.centres)
        entries = []
        if "hsi" in self.modules:
            m = self.modules["hsi"]
            local = occ if m.config.local_grid == self.grid else bank.local(chunk, frame, m.config.local_grid,
                                                                            m.config.local_grid.centres().to(dev))
            entries.append(Active(m, m.encode(local), 1.0))
        return self._loss(history, future, frame, text, None, occ, entries)

    def loss(self, step: int):
        batch = self.cfg["batch"]
        n_scene = int(round(batch * self.cfg["scene_fraction"])) if self.scenes is not None else 0
        if self.pairs is None:
            n_scene = batch
        parts = []
        if batch - n_scene > 0:
            parts.append((batch - n_scene, self._pair_batch(batch - n_scene)))
        if n_scene > 0:
            parts.append((n_scene, self._scene_batch(n_scene)))
        loss = sum(n * p[0] for n, p in parts) / batch
        logs = {}
        for n, (_, lg) in parts:
            for key, v in lg.items():
                logs[key] = logs.get(key, 0.0) + float(v) * n / batch
        return loss, logs

    # -------------------------------------------------------------- loop hooks
    def extra(self) -> dict:
        return {}

    def state(self) -> dict:
        return {"prior_hash": self.fp.hash, "modules": sorted(self.modules)}

    def restore(self, extra: dict, state: dict) -> None:
        if state.get("prior_hash") not in (None, self.fp.hash):
            raise PriorChanged("the checkpoint was trained against another prior; start again without --resume")

    def on_checkpoint(self, ema, step: int) -> None:
        self.fp.assert_unchanged()
        if self.export_dir is not None:
            from ..models.interaction import save_module

            save_module(ema.model, self.export_dir / "fwsr", asdict(self.config),
                        {"prior_hash": self.fp.hash, "step": step, "stage": "fwsr", "modules": sorted(self.modules)})


def build(cfg, args, device, generator):
    return FWSRStage(cfg, args.prior, args.modules, args.cache, device, generator,
                     export_dir=args.modules if args.export else None, progress=not args.quiet)


def main(argv=None) -> int:
    run_stage("fwsr", __doc__, DEFAULT_CONFIG, build, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
