"""What the interaction stages (module-hhi, module-hsi, fwsr) share: the frozen prior with its
hash guard, training banks of two-person windows and of motion-derived scenes, and the module
denoising loss.

Window layout (as the runtime): 1 + H + F = 11 consecutive reactor poses — a lead pose (for the
first history frame's deltas), H = 2 history frames, F = 8 future frames. The segment's first
future frame is `s = start + 3`; the partner window that goes with it ends at frame s (the
partner's current frame when the runtime starts that segment) and never looks past it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..body import canonical_rest
from ..data.motion import Motion
from ..models.features import FUTURE, HISTORY, primitive_features
from ..models.interaction import local_occupancy, LocalGrid
from ..models.mixing import Active, Modulator
from ..models.prior import MotionPrior, prior_hash
from ..models.text_encoder import embed_texts_cached
from .losses import primitive_losses

WINDOW = 1 + HISTORY + FUTURE
SEG = 1 + HISTORY  # index of the segment's first future frame inside a window


class PriorChanged(RuntimeError):
    """The frozen prior's files or in-memory weights changed during a module stage."""


class FrozenPrior:
    """The shipped prior, frozen, with a guard: the SHA-256 of its files (`prior_hash`) and a
    digest of its in-memory tensors are taken at load and re-checked on demand."""

    def __init__(self, path: str | Path, device: torch.device):
        self.path = Path(path)
        self.prior = MotionPrior.load(self.path, device)
        self.hash = prior_hash(self.path)
        self._memory = self.memory_digest()
        self.modulator = Modulator(self.prior.denoiser)

    def memory_digest(self) -> str:
        h = hashlib.sha256()
        for model in (self.prior.vae, self.prior.denoiser):
            for key, t in sorted(model.state_dict().items()):
                h.update(key.encode())
                h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def assert_unchanged(self) -> None:
        if prior_hash(self.path) != self.hash:
            raise PriorChanged(f"the prior files in {self.path} changed during training")
        if self.memory_digest() != self._memory:
            raise PriorChanged("the frozen prior's weights changed in memory during training")
        if any(p.requires_grad for m in (self.prior.vae, self.prior.denoiser) for p in m.parameters()):
            raise PriorChanged("a prior parameter requires grad")


def _pack(motions: list[Motion]):
    return (torch.cat([torch.as_tensor(m.transl, dtype=torch.float32) for m in motions]),
            torch.cat([torch.as_tensor(m.rotations, dtype=torch.float32) for m in motions]))


@dataclass
class PairBank:
    """Two-person training windows: reactor poses + the partner's world joints, per pose."""

    transl: torch.Tensor        # (N, 3) reactor
    rot: torch.Tensor           # (N, 22, 3, 3) reactor
    partner: torch.Tensor       # (N, 22, 3) partner world joints at the same frame
    seq_start: torch.Tensor     # (N,) index of the first pose of each pose's take
    starts: torch.Tensor        # (W,) valid window starts
    text_index: torch.Tensor    # (N,)
    texts: list[str]
    embeddings: torch.Tensor    # (len(texts), 384)
    weights: torch.Tensor       # (W,) sampling weight per start: every take equally likely

    @classmethod
    def build(cls, pairs: list[tuple[Motion, Motion]], cache_dir, mirror: bool = True, rest=None) -> "PairBank":
        """Each person as the reactor and the other as the partner; mirrored copies too."""
        from ..data.augment import both_roles, mirror_pair

        rest = rest or canonical_rest()
        items = []
        for a, b in pairs:
            variants = [(a, b)] + ([mirror_pair(a, b)] if mirror else [])
            for pa, pb in variants:
                items.extend(both_roles(pa, pb))
        items = [(r, p) for r, p in items if r.num_frames >= WINDOW]
        if not items:
            raise ValueError(f"no two-person take has the {WINDOW} frames a training window needs")
        texts = sorted({r.text for r, _ in items})
        tix = {t: i for i, t in enumerate(texts)}
        seq_start, starts, text_index, weights, offset = [], [], [], [], 0
        for r, _ in items:
            n = r.num_frames
            seq_start.append(torch.full((n,), offset))
            starts.append(torch.arange(offset, offset + n - WINDOW + 1))
            weights.append(torch.full((n - WINDOW + 1,), 1.0 / (n - WINDOW + 1)))
            text_index.append(torch.full((n,), tix[r.text]))
            offset += n
        transl, rot = _pack([r for r, _ in items])
        partner = torch.cat([torch.as_tensor(p.joints(rest)) for _, p in items])
        emb = torch.as_tensor(embed_texts_cached(texts, cache_dir))
        return cls(transl, rot, partner, torch.cat(seq_start), torch.cat(starts), torch.cat(text_index), texts, emb,
                   torch.cat(weights))

    def __len__(self) -> int:
        return int(self.starts.numel())

    def sample_starts(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Window starts, each take equally likely (the long salsa takes would otherwise
        outnumber the short CMU interaction takes ten to one)."""
        return self.starts[torch.multinomial(self.weights, batch, replacement=True, generator=generator)]

    def windows(self, start: torch.Tensor):
        """start (B,) pose indices -> reactor transl (B, 11, 3), rot (B, 11, 22, 3, 3), text (B, 384)."""
        idx = start[:, None] + torch.arange(WINDOW)[None]
        return self.transl[idx], self.rot[idx], self.embeddings[self.text_index[start]]

    def partner_window(self, current: torch.Tensor, length: int) -> torch.Tensor:
        """(B, length, 22, 3) partner joints ending at pose `current` (B,), clamped to its take."""
        idx = current[:, None] + torch.arange(1 - length, 1)[None]
        idx = torch.maximum(idx, self.seq_start[current][:, None])
        return self.partner[idx]


@dataclass
class SceneChunk:
    occupancy: torch.Tensor  # (X, Y, Z) bool world grid
    corner: torch.Tensor     # (3,) min corner of voxel (0, 0, 0)
    voxel: float


@dataclass
class SceneBank:
    """Single-person windows, each take chunk with its own motion-derived scene."""

    transl: torch.Tensor
    rot: torch.Tensor
    chunk_of: torch.Tensor      # (N,) chunk index per pose
    starts: torch.Tensor
    text_index: torch.Tensor
    texts: list[str]
    embeddings: torch.Tensor
    chunks: list[SceneChunk]

    @classmethod
    def build(cls, motions: list[Motion], cache_dir, chunk: int = 240, max_chunks: int | None = None,
              seed: int = 0, rest=None, progress: bool = False) -> "SceneBank":
        """Cut takes into chunks of `chunk` frames and derive a scene for each
        (data.scene_occupancy.scene_from_motion: floor, seats, obstacles clear of the body)."""
        from tqdm import tqdm

        from ..data.scene_occupancy import scene_from_motion

        rest = rest or canonical_rest()
        pieces = []
        for m in motions:
            for a in range(0, max(m.num_frames - WINDOW, 0) + 1, chunk):
                piece = m.slice(a, min(a + chunk, m.num_frames))
                if piece.num_frames >= WINDOW:
                    pieces.append(piece)
        rng = np.random.default_rng(seed)
        if max_chunks is not None and len(pieces) > max_chunks:
            pieces = [pieces[i] for i in sorted(rng.choice(len(pieces), max_chunks, replace=False))]
        if not pieces:
            raise ValueError(f"no motion has the {WINDOW} frames a training window needs")
        texts = sorted({p.text for p in pieces})
        tix = {t: i for i, t in enumerate(texts)}
        chunks, chunk_of, starts, text_index, offset = [], [], [], [], 0
        for i, p in enumerate(tqdm(pieces, desc="scenes", disable=not progress, unit="chunk")):
            grid = scene_from_motion(p, rest, rng)
            chunks.append(SceneChunk(torch.as_tensor(grid.occupancy), torch.as_tensor(grid.origin, dtype=torch.float32),
                                     float(grid.voxel)))
            n = p.num_frames
            chunk_of.append(torch.full((n,), i))
            starts.append(torch.arange(offset, offset + n - WINDOW + 1))
            text_index.append(torch.full((n,), tix[p.text]))
            offset += n
        transl, rot = _pack(pieces)
        emb = torch.as_tensor(embed_texts_cached(texts, cache_dir))
        return cls(transl, rot, torch.cat(chunk_of), torch.cat(starts), torch.cat(text_index), texts, emb, chunks)

    def __len__(self) -> int:
        return int(self.starts.numel())

    def sample(self, batch: int, generator: torch.Generator):
        start = self.starts[torch.randint(len(self), (batch,), generator=generator)]
        idx = start[:, None] + torch.arange(WINDOW)[None]
        return self.transl[idx], self.rot[idx], self.embeddings[self.text_index[start]], self.chunk_of[start]

    def local(self, chunk_ids: torch.Tensor, frame, grid: LocalGrid, centres: torch.Tensor) -> torch.Tensor:
        """(B, X, Y, Z) ego-centric occupancy of each sample's scene in its canonical frame."""
        from ..models.features import Frame

        out = []
        for i, c in enumerate(chunk_ids.tolist()):
            ch = self.chunks[c]
            row = Frame(frame.rotation[i:i + 1], frame.origin[i:i + 1])
            out.append(local_occupancy(ch.occupancy, ch.corner.to(frame.origin), ch.voxel, row, grid,
                                       centres)[0])
        return torch.stack(out)


def occupancy_at(points: torch.Tensor, occ: torch.Tensor, grid: LocalGrid) -> torch.Tensor:
    """Trilinear occupancy (B, ...) of the ego-centric grids occ (B, X, Y, Z) at canonical-frame
    points (B, ..., 3): differentiable in the points, for the penetration loss."""
    b = occ.shape[0]
    size = torch.tensor(grid.shape, dtype=points.dtype, device=points.device)
    lo = torch.tensor([-grid.shape[0] * grid.cell / 2, -grid.shape[1] * grid.cell / 2, grid.z_min],
                      dtype=points.dtype, device=points.device)
    # grid_sample's normalised coords: -1 / +1 at the outer cell edges (align_corners=False).
    norm = (points - lo) / (size * grid.cell) * 2 - 1
    flat = norm.reshape(b, -1, 1, 1, 3)[..., [2, 1, 0]]  # occ is (D=X, H=Y, W=Z); grid_sample takes (w, h, d)
    vals = torch.nn.functional.grid_sample(occ[:, None].float(), flat, mode="bilinear", padding_mode="zeros",
                                           align_corners=False)
    return vals.reshape(points.shape[:-1])


def canonical_batch(prior: MotionPrior, transl: torch.Tensor, rot: torch.Tensor):
    """Normalised history (B, H, D), future (B, F, D) and the canonical frame of windows."""
    feats, frame = primitive_features(transl, rot, prior.offsets)
    x = prior.normalizer.normalize(feats)
    return x[:, :HISTORY], x[:, HISTORY:], frame


def denoising_loss(fp: FrozenPrior, entries: list[Active], history, future, text, generator, weights: dict,
                   text_dropout: float = 0.1, modulator: Modulator | None = None):
    """The prior's own objective with the modules in the loop: x0-prediction of the VAE latent
    of the true future, from a noisy latent at a random step, plus decoded-feature losses.
    `modulator` replaces the frozen prior's (the ablations that train the denoiser too).
    Returns (loss, logs, decoded prediction (B, F, D))."""
    prior = fp.prior
    modulator = modulator or fp.modulator
    b, dev = history.shape[0], history.device
    scale = prior.latent_scale
    with torch.no_grad():
        z0 = prior.vae.encode(history, future)[0] * scale
    t = torch.randint(prior.diffusion.steps, (b,), generator=generator).to(dev)
    noise = torch.randn(z0.shape, generator=generator).to(dev)
    keep = (torch.rand(b, generator=generator) >= text_dropout).to(dev)
    z_t = prior.diffusion.q_sample(z0, t, noise)
    x0 = modulator.bind(entries)(z_t, t, text, history, keep)
    pred = prior.vae.decode(x0 / scale, history)
    parts = primitive_losses(pred, future, history, prior.normalizer, prior.offsets)
    latent = ((x0 - z0) ** 2).mean()
    loss = (weights["latent"] * latent + parts["rec"] + weights["joints"] * parts["joints"]
            + weights["fk"] * parts["fk_consistency"] + weights["delta"] * parts["delta_consistency"])
    with torch.no_grad():  # the same sample through the prior alone: what the module gains
        latent_prior = ((prior.denoiser(z_t, t, text, history, keep) - z0) ** 2).mean()
    logs = {"latent": latent.detach(), "latent_prior": latent_prior, **{k: v.detach() for k, v in parts.items()}}
    return loss, logs, pred


# ----------------------------------------------------------------------------- command line
def stage_parser(name: str, doc: str):
    import argparse

    from ..paths import ASSETS_DIR, default_cache_dir

    ap = argparse.ArgumentParser(prog=f"python -m inference_backend.train {name}", description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prior", type=Path, default=ASSETS_DIR / "prior", help="the frozen prior folder")
    ap.add_argument("--modules", type=Path, default=ASSETS_DIR / "modules",
                    help="where trained modules are read (fwsr) and exported (--export)")
    ap.add_argument("--cache", type=Path, default=default_cache_dir(), help="the motion cache folder")
    ap.add_argument("--out", type=Path, help=f"checkpoint folder (default <cache>/train/{name})")
    ap.add_argument("--config", type=Path, help="json overriding entries of the stage's default config")
    ap.add_argument("--steps", type=int, help="override the config's step count")
    ap.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    ap.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this much wall time")
    ap.add_argument("--export", action="store_true", help="export the EMA weights to --modules at every checkpoint")
    ap.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def run_stage(name: str, doc: str, default_config: dict, build, argv=None) -> dict:
    """Parse the stage's options, build it (`build(cfg, args, device, generator)`), train it
    with the shared loop (AdamW, EMA, resumable safetensors+json checkpoints, tqdm, jsonl log),
    check the prior is unchanged, and print the last losses as json."""
    import json

    from .loop import pick_device, run

    args = stage_parser(name, doc).parse_args(argv)
    cfg = dict(default_config)
    if args.config:
        cfg.update(json.loads(Path(args.config).read_text()))
    if args.steps is not None:
        cfg["steps"] = args.steps
    args.out = args.out or args.cache / "train" / name
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(cfg.get("seed", 0))
    generator = torch.Generator().manual_seed(cfg.get("seed", 0))
    device = pick_device(args.device)
    stage = build(cfg, args, device, generator)
    logs = run(stage, cfg, args.out, generator, args.resume, args.max_minutes, quiet=args.quiet)
    stage.fp.assert_unchanged()
    print(json.dumps({"stage": name, "device": str(device), "prior_hash": stage.fp.hash,
                      **{k: round(v, 5) for k, v in logs.items()}}))
    return logs


# ----------------------------------------------------------------------------- validation
@dataclass
class ValSet:
    """Fixed held-out samples (windows, cue inputs, diffusion steps, noise) for scoring a module
    with the training objective: latent MSE of the x0 prediction, with and without the module."""

    history: torch.Tensor
    future: torch.Tensor
    text: torch.Tensor
    cue_input: torch.Tensor      # partner windows (HHI) or ego-centric occupancy (HSI)
    frame: object                # canonical frames (features.Frame)
    t: torch.Tensor
    noise: torch.Tensor

    @torch.no_grad()
    def score(self, fp: FrozenPrior, module) -> dict:
        prior = fp.prior
        was_training = module.training
        module.eval()
        z0 = prior.vae.encode(self.history, self.future)[0] * prior.latent_scale
        z_t = prior.diffusion.q_sample(z0, self.t, self.noise)
        keep = torch.ones(len(z0), dtype=torch.bool, device=z0.device)
        cues = module.encode(self.cue_input, self.frame) if module.kind == "hhi" else module.encode(self.cue_input)
        x0 = fp.modulator.bind([Active(module, cues, 1.0)])(z_t, self.t, self.text, self.history, keep)
        x0_prior = prior.denoiser(z_t, self.t, self.text, self.history, keep)
        module.train(was_training)
        return {"val_latent": float(((x0 - z0) ** 2).mean()), "val_latent_prior": float(((x0_prior - z0) ** 2).mean())}


def fixed_draws(n: int, steps: int, latent_dim: int, seed: int = 1234):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(steps, (n,), generator=g), torch.randn(n, latent_dim, generator=g), g


# ----------------------------------------------------------------------------- module stages
MODULE_DEFAULTS = {
    "module": {"layers": "all", "d_cue": 128, "d_inner": 128, "heads": 4, "window": 16},
    "batch": 64, "steps": 3000, "lr": 3e-4, "lr_floor": 0.1, "warmup": 100, "weight_decay": 0.01,
    "grad_clip": 1.0, "ema_decay": 0.995, "text_dropout": 0.1, "mirror": True,
    "weights": {"latent": 1.0, "joints": 1.0, "fk": 0.5, "delta": 0.5},
    "log_every": 10, "checkpoint_every": 250, "checkpoint_minutes": 3, "seed": 0, "val_samples": 512,
}


class ModuleStage:
    """A Meta-Interaction module trained on the frozen prior's objective; only the module's
    parameters are trainable. Subclasses supply the data and the cue input."""

    kind = ""

    def __init__(self, cfg: dict, prior_dir, device: torch.device, generator: torch.Generator,
                 export_dir: Path | None = None, out: Path | None = None):
        from ..models.interaction import InteractionModule, ModuleConfig
        from ..models.mixing import prior_layers

        self.cfg, self.device, self.generator, self.export_dir, self.out = cfg, device, generator, export_dir, out
        self.val: ValSet | None = None   # set by subclasses that have held-out data
        self.best = float("inf")
        self.fp = FrozenPrior(prior_dir, device)
        mcfg = dict(cfg["module"])
        if mcfg.get("layers", "all") == "all":
            mcfg["layers"] = list(range(len(prior_layers(self.fp.prior.denoiser))))
        self.module_config = ModuleConfig(kind=self.kind, d_prior=self.fp.prior.denoiser.d_model, **mcfg)
        self.model = InteractionModule(self.module_config).to(device)

    def extra(self) -> dict:
        return {}

    def state(self) -> dict:
        return {"prior_hash": self.fp.hash, "best_val": self.best}

    def restore(self, extra: dict, state: dict) -> None:
        if state.get("prior_hash") not in (None, self.fp.hash):
            raise PriorChanged(f"the checkpoint was trained against prior {state['prior_hash'][:12]}, "
                               f"but {self.fp.path} is {self.fp.hash[:12]}; start again without --resume")
        self.best = state.get("best_val", float("inf"))

    def on_checkpoint(self, ema, step: int) -> None:
        """Check the prior; score the EMA module on the validation split (val.jsonl, and in the
        exported json) and export it. With "select_best" only a module whose validation
        latent error is the lowest so far is exported. Off by default: on our two-person data
        the held-out latent error is lowest after ~200 steps and then rises (body-pose detail
        overfits), while held-out rollouts keep improving in what matters here — position,
        facing and distance to the partner (docs/modules.md)."""
        import json
        from dataclasses import asdict

        from ..models.interaction import save_module

        self.fp.assert_unchanged()
        meta = {"prior_hash": self.fp.hash, "step": step, "stage": f"module-{self.kind}"}
        better = True
        if self.val is not None:
            scores = self.val.score(self.fp, ema.model)
            better = scores["val_latent"] < self.best
            self.best = min(self.best, scores["val_latent"])
            meta.update(scores)
            if self.out is not None:
                with (Path(self.out) / "val.jsonl").open("a") as f:
                    f.write(json.dumps({"step": step, **scores, "best": better}) + "\n")
        if self.export_dir is not None and (better or not self.cfg.get("select_best", False)):
            save_module(ema.model, self.export_dir / self.kind, asdict(self.module_config), meta)
