"""Stage `module-hsi`: the human-scene Meta-Interaction module on the frozen prior.

No human-scene data with geometry is available, so every training take is cut into 8-second
chunks and each chunk gets a scene derived from its own motion (`data.scene_occupancy`: the
floor, seats under a sitting pelvis, obstacles kept clear of the body's swept volume). A sample
is a window of the chunk with the ego-centric occupancy grid around its canonical frame. Loss:
the prior's objective with the module in the loop, plus a penetration term — the decoded
future joints' occupancy (trilinear in the ego grid) above one half is penalised, so the module
is pushed to keep the body out of obstacles, not only to imitate the data.

    python -m inference_backend.train module-hsi [--steps N] [--max-minutes M] [--export] [--resume]
"""
from __future__ import annotations

import sys

import torch

from ..models.features import features_to_pose
from ..models.mixing import Active
from .module_common import (MODULE_DEFAULTS, ModuleStage, SceneBank, ValSet, canonical_batch, denoising_loss,
                            fixed_draws, occupancy_at, run_stage)

DEFAULT_CONFIG = {**MODULE_DEFAULTS, "name": "module-hsi", "steps": 1500, "penetration": 1.0,
                  "chunk_frames": 240, "max_chunks": 400}


class HSIStage(ModuleStage):
    kind = "hsi"

    def __init__(self, cfg, prior_dir, cache, device, generator, motions=None, export_dir=None, progress=True,
                 out=None, val_motions=None):
        super().__init__(cfg, prior_dir, device, generator, export_dir, out)
        if motions is None:
            from ..data.dataset import load_motions

            motions = load_motions(cache, "train")
            val_motions = load_motions(cache, "val") if val_motions is None else val_motions
        self.bank = SceneBank.build(motions, cache, cfg["chunk_frames"], cfg.get("max_chunks"), cfg.get("seed", 0),
                                    progress=progress)
        self.grid = self.module_config.local_grid
        self.centres = self.grid.centres().to(device)
        if val_motions:
            bank = SceneBank.build(val_motions, cache, cfg["chunk_frames"], 40, 1)
            prior = self.fp.prior
            n = cfg.get("val_samples", 512)
            t, noise, g = fixed_draws(n, prior.diffusion.steps, prior.latent_dim)
            transl, rot, text, chunk = bank.sample(n, g)
            history, future, frame = canonical_batch(prior, transl.to(device), rot.to(device))
            occ = bank.local(chunk, frame, self.grid, self.centres)
            self.val = ValSet(history, future, text.to(device), occ, frame, t.to(device), noise.to(device))

    def loss(self, step: int):
        cfg, dev = self.cfg, self.device
        transl, rot, text, chunk = self.bank.sample(cfg["batch"], self.generator)
        transl, rot, text = transl.to(dev), rot.to(dev), text.to(dev)
        history, future, frame = canonical_batch(self.fp.prior, transl, rot)
        occ = self.bank.local(chunk, frame, self.grid, self.centres)
        cues = self.model.encode(occ)
        loss, logs, pred = denoising_loss(self.fp, [Active(self.model, cues, 1.0)], history, future, text,
                                          self.generator, cfg["weights"], cfg["text_dropout"])
        _, _, joints = features_to_pose(self.fp.prior.normalizer.denormalize(pred))    # canonical frame
        inside = occupancy_at(joints, occ, self.grid)
        penetration = torch.relu(inside - 0.5).mean()
        logs.update(penetration=penetration.detach(), inside_frac=(inside > 0.5).float().mean())
        return loss + cfg["penetration"] * penetration, logs


def build(cfg, args, device, generator):
    return HSIStage(cfg, args.prior, args.cache, device, generator, export_dir=args.modules if args.export else None,
                    progress=not args.quiet, out=args.out)


def main(argv=None) -> int:
    run_stage("module-hsi", __doc__, DEFAULT_CONFIG, build, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
