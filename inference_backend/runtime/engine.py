"""The causal reaction loop at the model's 30 fps, batched over sequences.

Per segment of F=8 frames: canonicalise the last poses (DART history), encode the cues of the
active modules in that canonical frame, run the 10-step latent diffusion with the mixed module
modulation (`Modulator`), keep the clean latent z0. Per frame k of the segment: refine z0 with
the newest partner window (FWSR), decode with the frozen VAE, emit frame k only. Without a
refiner the segment is decoded once and its frames are emitted in turn (plain DART rollout).

Floor: an emitted pose whose lowest joint would sink below the floor is lifted onto it (and
continues from there). The floor is the lowest joint of the start pose, lowered to the
partner's lowest joint as partner frames arrive (both stand on the same ground); the prior
has no floor of its own and otherwise lets a body that leans or reaches sink a few cm.

`ReactionSession` drives this one frame at a time (and may start the next segment's diffusion
early, spread over the current segment's frames: `Pending`); batch generation drives it a
segment at a time, refining all frames of a segment in one batched call. Both go through the
same functions, so they agree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..body import forward_kinematics
from ..models.features import FUTURE, HISTORY, Frame, features_to_pose, primitive_features, to_world
from ..models.interaction import LocalGrid, local_occupancy
from ..models.mixing import Active
from .model import Runtime
from .scene import PreparedScene


def _rows(frame: Frame, repeats: int) -> Frame:
    return Frame(frame.rotation.repeat_interleave(repeats, 0), frame.origin.repeat_interleave(repeats, 0))


class DiffusionRun:
    """The prior's DDPM sampler (models.diffusion.LatentDiffusion.sample, same arithmetic), one
    step at a time, with one noise generator per sequence so a batch row draws the same noise
    as that sequence alone."""

    def __init__(self, runtime: Runtime, text: torch.Tensor, history: torch.Tensor,
                 generators: list[torch.Generator], guidance: float, eta: float = 1.0):
        self.rt, self.text, self.history, self.gens = runtime, text, history, generators
        self.guidance, self.eta = guidance, eta
        diff = runtime.prior.diffusion
        self.ts = torch.linspace(diff.steps - 1, 0, diff.steps).round().long().tolist()
        self.i = 0
        self.z = self._noise()
        self.x0 = self.z

    def _noise(self) -> torch.Tensor:
        dim = self.rt.prior.latent_dim
        return torch.stack([torch.randn(dim, generator=g) for g in self.gens]).to(self.rt.device)

    @property
    def done(self) -> bool:
        return self.i >= len(self.ts)

    def advance(self, steps: int, actives: list[Active]) -> None:
        prior = self.rt.prior
        ac = prior.diffusion.alphas_cumprod
        for _ in range(steps):
            if self.done:
                return
            t = self.ts[self.i]
            denoiser = self.rt.modulator.bind(actives, self.rt.max_ratio)
            self.x0 = prior.diffusion.predict_x0(denoiser, self.z, t, self.text, self.history, self.guidance)
            self.i += 1
            if self.done:
                return
            ab_t, ab_prev = float(ac[t]), float(ac[self.ts[self.i]])
            eps = (self.z - math.sqrt(ab_t) * self.x0) / math.sqrt(1 - ab_t)
            sigma = self.eta * math.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
            noise = self._noise()
            self.z = math.sqrt(ab_prev) * self.x0 + math.sqrt(max(1 - ab_prev - sigma ** 2, 0.0)) * eps + sigma * noise

    def latent(self) -> torch.Tensor:
        """The clean latent in VAE units (the diffusion runs on scaled latents)."""
        return self.x0 / self.rt.prior.latent_scale


@dataclass
class Segment:
    start: int                      # model frame of the segment's first future frame
    z0: torch.Tensor                # (B, L) VAE units
    history: torch.Tensor           # (B, H, D) normalised history features
    frame: Frame                    # canonical frame (batch B)
    scene_tokens: torch.Tensor | None   # FWSR scene tokens (B, N, d) or None
    decoded: tuple | None = None    # without refiner: world (transl (B,F,3), rot (B,F,22,3,3))


@dataclass
class Pending:
    """The next segment's diffusion, started early from the current segment's predicted last
    frames and advanced a few steps per emitted frame."""

    run: DiffusionRun
    frame: Frame
    scene_cues: dict


class Engine:
    """Reaction state for B sequences advancing in lockstep on the model clock."""

    def __init__(self, runtime: Runtime, text: torch.Tensor, alphas: dict[str, torch.Tensor],
                 scenes: list[PreparedScene | None], seeds: list[int], refine: bool = True,
                 segment_frames: int = FUTURE, guidance: float | None = None):
        self.rt = runtime
        self.dev = runtime.device
        self.text = text.to(self.dev)                              # (B, 384)
        self.batch = text.shape[0]
        self.alphas = {n: a.to(self.dev) for n, a in alphas.items() if n in runtime.modules and bool((a != 0).any())}
        self.scenes = scenes
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.refiner = runtime.refiner if refine else None
        if not 1 <= segment_frames <= FUTURE:
            raise ValueError(f"segment_frames must be in [1, {FUTURE}], got {segment_frames}")
        self.segment_frames = segment_frames
        self.guidance = runtime.prior.guidance if guidance is None else guidance
        self.offsets = runtime.prior.offsets
        self.transl: torch.Tensor | None = None   # (B, 3, 3) last three world poses (lead + history)
        self.rot: torch.Tensor | None = None      # (B, 3, 22, 3, 3)
        self.segment: Segment | None = None
        self.pending: Pending | None = None
        self.floor: torch.Tensor | None = None     # (B,) height the lowest joint may not go below

    # ------------------------------------------------------------------ state
    def start(self, transl: torch.Tensor, rot: torch.Tensor) -> None:
        """Standing still at the given pose (B, 3), (B, 22, 3, 3): three identical poses; the
        pose's lowest joint is the floor until a partner frame shows a lower one."""
        self.transl = transl.to(self.dev)[:, None].repeat(1, 1 + HISTORY, 1)
        self.rot = rot.to(self.dev)[:, None].repeat(1, 1 + HISTORY, 1, 1, 1)
        self.floor = self._lowest(self.transl[:, :1], self.rot[:, :1])[:, 0]

    def _lowest(self, transl: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
        """Height (B, K) of the lowest joint of poses (B, K, 3), (B, K, 22, 3, 3)."""
        return forward_kinematics(rot, self.offsets, transl)[1][..., 2].min(-1).values

    def on_floor(self, transl: torch.Tensor, rot: torch.Tensor, windows: torch.Tensor | None) -> torch.Tensor:
        """transl (B, K, 3) lifted where the pose would sink below the floor; the floor first
        follows the partner frames of `windows` (B, K, W, 22, 3) down, frame by frame."""
        floor = self.floor[:, None].expand(-1, transl.shape[1])
        if windows is not None:
            partner_low = windows[:, :, -1, :, 2].to(floor).min(-1).values                  # (B, K)
            floor = torch.minimum(floor, torch.cummin(partner_low, dim=1).values)
        self.floor = floor[:, -1].clone()
        lift = (floor - self._lowest(transl, rot)).clamp(min=0.0)
        return torch.cat([transl[..., :2], transl[..., 2:] + lift[..., None]], -1)

    def push(self, transl: torch.Tensor, rot: torch.Tensor) -> None:
        """Append emitted poses (B, K, 3), (B, K, 22, 3, 3) to the history."""
        self.transl = torch.cat([self.transl, transl], 1)[:, -(1 + HISTORY):]
        self.rot = torch.cat([self.rot, rot], 1)[:, -(1 + HISTORY):]

    def canonical(self, transl: torch.Tensor, rot: torch.Tensor) -> tuple[torch.Tensor, Frame]:
        feats, frame = primitive_features(transl, rot, self.offsets)
        return self.rt.prior.normalizer.normalize(feats), frame

    # ------------------------------------------------------------------ cues
    def local_grids(self, frame: Frame, grid: LocalGrid) -> torch.Tensor | None:
        """(B, X, Y, Z) ego-centric occupancy (zeros for rows without a scene), or None."""
        if not any(s is not None for s in self.scenes):
            return None
        out = torch.zeros(self.batch, *grid.shape, device=self.dev)
        centres = grid.centres().to(self.dev)
        for i, scene in enumerate(self.scenes):
            if scene is not None:
                row = Frame(frame.rotation[i:i + 1], frame.origin[i:i + 1])
                out[i] = local_occupancy(scene.occupancy, scene.corner, scene.voxel, row, grid, centres)[0]
        return out

    def scene_cues(self, frame: Frame) -> dict[str, torch.Tensor]:
        """Cue tokens of the scene modules (static scene: once per segment)."""
        out = {}
        for name, alpha in self.alphas.items():
            module = self.rt.modules[name]
            if module.kind == "hsi":
                occ = self.local_grids(frame, module.config.local_grid)
                if occ is not None:
                    out[name] = module.encode(occ)
        return out

    def actives(self, frame: Frame, window: torch.Tensor | None, scene_cues: dict) -> list[Active]:
        """The modules taking part, with cue tokens in `frame`; window (B, W, 22, 3) world, or
        None when there is no partner."""
        entries = []
        for name, alpha in self.alphas.items():
            module = self.rt.modules[name]
            if module.kind == "hhi":
                if window is None:
                    continue
                w = module.config.window
                entries.append(Active(module, module.encode(window[:, -w:], frame), alpha))
            elif name in scene_cues:
                entries.append(Active(module, scene_cues[name], alpha))
        return entries

    # ------------------------------------------------------------------ segments
    @torch.no_grad()
    def begin_segment(self, start: int, window: torch.Tensor, z0: torch.Tensor | None = None) -> None:
        """Denoise the segment whose first frame is model frame `start` (unless the pipelined
        latent z0 is given). window: partner (B, W, 22, 3) world, ending at frame `start`."""
        history, frame = self.canonical(self.transl, self.rot)
        if z0 is None:
            run = DiffusionRun(self.rt, self.text, history, self.gens, self.guidance)
            run.advance(len(run.ts), self.actives(frame, window, self.scene_cues(frame)))
            z0 = run.latent()
        scene_tokens = None
        if self.refiner is not None and self.refiner.config.scene:
            occ = self.local_grids(frame, self.refiner.config.local_grid)
            if occ is None:
                occ = torch.zeros(self.batch, *self.refiner.config.local_grid.shape, device=self.dev)
            scene_tokens = self.refiner.scene_tokens(occ, self.batch)
        self.segment = Segment(start, z0, history, frame, scene_tokens)
        if self.refiner is None:
            self.segment.decoded = self.decode(z0, history, frame)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, history: torch.Tensor, frame: Frame):
        """World poses of all F frames: transl (N, F, 3), rotations (N, F, 22, 3, 3)."""
        prior = self.rt.prior
        feats = prior.normalizer.denormalize(prior.vae.decode(z, history))
        transl, rot, _ = features_to_pose(feats)
        return to_world(frame, transl, rot)

    @torch.no_grad()
    def emit(self, ks: list[int], windows: torch.Tensor | None, full: bool = False):
        """Frames ks of the current segment (B, K, ...). windows (B, K, W, 22, 3): the partner
        window ending at each of those frames (used by the refiner). With `full`, also all F
        frames decoded for ks[0] (B, F, ...), to start the next segment early."""
        seg, k = self.segment, len(ks)
        idx = torch.as_tensor(ks, device=self.dev)
        if self.refiner is None:
            transl, rot = seg.decoded
            out = self.on_floor(transl[:, idx], rot[:, idx], windows), rot[:, idx]
            return (out, (transl, rot)) if full else out
        b = self.batch
        frame = _rows(seg.frame, k)
        hist = seg.history.repeat_interleave(k, 0)
        offsets = idx.repeat(b)
        partner = None if windows is None else windows.reshape(b * k, *windows.shape[2:])[:, -self.refiner.config.window:]
        tokens = None if seg.scene_tokens is None else seg.scene_tokens.repeat_interleave(k, 0)
        z = self.refiner(seg.z0.repeat_interleave(k, 0), offsets, hist, partner, frame, tokens)
        transl, rot = self.decode(z, hist, frame)                       # (B*K, F, ...)
        rows = torch.arange(b * k, device=self.dev)
        out_rot = rot[rows, offsets].reshape(b, k, *rot.shape[2:])
        out = (self.on_floor(transl[rows, offsets].reshape(b, k, 3), out_rot, windows), out_rot)
        if full:
            first = torch.arange(b, device=self.dev) * k
            return out, (transl[first], rot[first])
        return out

    # ------------------------------------------------------------------ pipelining
    @torch.no_grad()
    def begin_pending(self, predicted_transl: torch.Tensor, predicted_rot: torch.Tensor) -> None:
        """Start the next segment's diffusion from the predicted last 1+H poses of this one."""
        history, frame = self.canonical(predicted_transl, predicted_rot)
        run = DiffusionRun(self.rt, self.text, history, self.gens, self.guidance)
        self.pending = Pending(run, frame, self.scene_cues(frame))

    @torch.no_grad()
    def advance_pending(self, steps: int, window: torch.Tensor) -> None:
        p = self.pending
        if p is not None and steps > 0 and not p.run.done:
            p.run.advance(steps, self.actives(p.frame, window, p.scene_cues))

    def take_pending(self) -> torch.Tensor | None:
        """The early latent when its diffusion has finished, else None (then the segment is
        denoised on the spot)."""
        p, self.pending = self.pending, None
        if p is None or not p.run.done:
            return None
        return p.run.latent()


def spread(total: int, frames: int) -> list[int]:
    """How many of `total` diffusion steps to run after each of `frames` frames (sums to total)."""
    return [math.ceil((k + 1) * total / frames) - math.ceil(k * total / frames) for k in range(frames)]
