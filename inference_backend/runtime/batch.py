"""Batch generation: the same causal loop as the live session over whole shots, many
sequences at once.

Partner frames are fed through the same `PartnerClock` as in a live session, so the model sees
the same partner stream; each segment is denoised once for all sequences together, and the
refinement of all its frames runs as one batched call (frame k still sees only partner frames
up to k). With pipelining off, a session stepped frame by frame produces the same reaction.

    out = generate(partner, "waves back")        # partner (T, 22, 3) -> dict of (T, ...) arrays
    out = generate(None, "walks to the door", scene=grid, frames=90)   # no partner: scene only
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..models.features import FUTURE
from . import checks
from .clock import Emit, PartnerClock
from .engine import Engine
from .model import Runtime, default_runtime
from .poses import blend, default_start, smplx_output, start_from_dict
from .scene import PreparedScene, SceneGrid


class Cancelled(RuntimeError):
    """The progress callback returned False: generation stopped, nothing is returned."""


@dataclass
class Request:
    """One sequence to generate (checked by `checked` before anything runs)."""

    partner: np.ndarray | None              # (T, 22, 3) world joints, Z up, metres; None: no partner
    intent: str
    weights: dict | None = None
    seed: int = 0
    fps: float = 30.0
    scene: SceneGrid | None = None
    start: dict | None = None
    partner_history: np.ndarray | None = None
    alphas: dict | None = None             # resolved module weights (set by `checked`)
    frames: int | None = None              # output frames when there is no partner

    def checked(self, runtime: Runtime, need_partner: bool = False) -> "Request":
        """A validated copy (ValueError naming the problem). need_partner: a live session gets
        its partner frame by frame; generation needs the partner sequence or `frames`."""
        partner = None
        frames = self.frames
        if self.partner is not None:
            partner = checks.joints_array(self.partner, "partner", sequence=True)
            if need_partner and len(partner) == 0:
                raise ValueError("partner has no frames; generate needs at least one partner frame")
            frames = len(partner)
        elif need_partner:
            if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= checks.MAX_FRAMES:
                raise ValueError(f"without a partner, frames must be an integer in [1, {checks.MAX_FRAMES}], "
                                 f"got {frames!r}")
        scene = checks.scene_value(self.scene)
        if self.start is not None:
            start_from_dict(self.start)
        history = checks.history_array(self.partner_history)
        if partner is None and need_partner and history is not None:
            raise ValueError("partner_history was given without a partner sequence")
        alphas = checks.module_weights(self.weights, runtime, scene, has_partner=partner is not None or not need_partner)
        return replace(self, partner=partner, intent=checks.intent_text(self.intent), seed=checks.seed_value(self.seed),
                       fps=checks.fps_value(self.fps), scene=scene, partner_history=history, alphas=alphas,
                       frames=frames)


@dataclass
class _Track:
    """One sequence's partner on the model clock and how its output frames are made."""

    partner: np.ndarray | None  # (N, 22, 3) model-rate partner from model frame `first` on
    first: int                  # model frame of partner[0] (negative with history)
    emits: list[Emit]           # per output frame
    frames: int                 # model frames to generate

    def window(self, m: int, length: int) -> np.ndarray:
        """(length, 22, 3) partner frames ending at model frame m (clamped to what exists)."""
        idx = np.clip(np.arange(m - length + 1, m + 1) - self.first, 0, len(self.partner) - 1)
        return self.partner[idx]


def _track(req: Request) -> _Track:
    """The model-clock partner stream and output-frame recipe of a request (no partner: the
    same clock fed with placeholders, only the recipe is kept)."""
    clock = PartnerClock(req.fps, req.partner_history)
    frames = dict(clock.history_frames)
    emits = []
    stream = req.partner if req.partner is not None else np.zeros((req.frames, 22, 3), np.float32)
    for x in stream:
        new, emit = clock.push(x)
        frames.update(new)
        emits.append(emit)
    first = min(frames)
    partner = np.stack([frames[m] for m in range(first, max(frames) + 1)]) if req.partner is not None else None
    return _Track(partner, first, emits, max(e.hi for e in emits) + 1)


@torch.no_grad()
def generate_batch(requests: list[Request], runtime: Runtime | None = None, progress=None, refine: bool = True,
                   segment_frames: int = FUTURE, device: str = "cpu") -> list[dict[str, np.ndarray]]:
    """Reactions for many sequences at once; progress(done, total) counts output frames and
    may return False to cancel (raises `Cancelled`)."""
    from .session import window_length

    rt = runtime if runtime is not None else default_runtime(device)
    if not requests:
        return []
    reqs = [r.checked(rt, need_partner=True) for r in requests]
    with_partner = {r.partner is not None for r in reqs}
    if len(with_partner) > 1:
        raise ValueError("generate_batch: requests with and without a partner must go in separate calls")
    has_partner = with_partner.pop()
    tracks = [_track(r) for r in reqs]
    length = window_length(rt)
    dev = rt.device
    names = sorted({n for r in reqs for n in r.alphas})
    alphas = {n: torch.tensor([r.alphas.get(n, 0.0) for r in reqs]) for n in names}
    scenes = [None if r.scene is None else PreparedScene.build(r.scene, 0.125, dev) for r in reqs]
    text = torch.stack([rt.text(r.intent) for r in reqs])
    eng = Engine(rt, text, alphas, scenes, [r.seed for r in reqs], refine=refine, segment_frames=segment_frames)
    starts = [start_from_dict(r.start) if r.start is not None
              else default_start(t.window(0, 1)[0] if has_partner else None, rt.prior.offsets.cpu().numpy(),
                            rt.prior.standing)
              for r, t in zip(reqs, tracks)]
    eng.start(torch.as_tensor(np.stack([s[0] for s in starts])), torch.as_tensor(np.stack([s[1] for s in starts])))

    total_model = max(t.frames for t in tracks)
    total_out = sum(len(t.emits) for t in tracks)
    out_t, out_r = [], []
    for s in range(0, total_model, eng.segment_frames):
        k = min(eng.segment_frames, total_model - s)
        windows = None
        if has_partner:
            windows = np.stack([np.stack([t.window(min(m, t.frames - 1), length) for m in range(s, s + k)])
                                for t in tracks])                                # (B, K, W, 22, 3)
            windows = torch.as_tensor(windows, device=dev)
        eng.begin_segment(s, None if windows is None else windows[:, 0])
        transl, rot = eng.emit(list(range(k)), windows)
        eng.push(transl, rot)
        out_t.append(transl)
        out_r.append(rot)
        if progress is not None:
            done = sum(sum(1 for e in t.emits if e.hi < s + k) for t in tracks)
            if progress(done, total_out) is False:
                raise Cancelled("generate was cancelled")
    transl, rot = torch.cat(out_t, 1), torch.cat(out_r, 1)                      # (B, M, ...)

    results = []
    for i, t in enumerate(tracks):
        lo = torch.as_tensor([e.lo for e in t.emits], device=dev)
        hi = torch.as_tensor([e.hi for e in t.emits], device=dev)
        w = torch.as_tensor([e.w for e in t.emits], dtype=transl.dtype, device=dev)
        tt, rr = transl[i, lo], rot[i, lo]
        if bool((hi != lo).any()):
            bt, br = blend(tt, rr, transl[i, hi], rot[i, hi], w)
            mask = (hi != lo)
            tt = torch.where(mask[:, None], bt, tt)
            rr = torch.where(mask[:, None, None, None], br, rr)
        results.append(smplx_output(tt, rr, rt.prior.offsets))
    return results


def generate(partner: np.ndarray | None, intent: str, weights: dict[str, float] | None = None, seed: int = 0,
             fps: float = 30.0, scene: SceneGrid | None = None, progress=None, runtime: Runtime | None = None,
             partner_history: np.ndarray | None = None, start: dict | None = None, device: str = "cpu",
             refine: bool = True, segment_frames: int = FUTURE, frames: int | None = None) -> dict[str, np.ndarray]:
    """The reaction to a whole partner sequence (T, 22, 3): {"transl" (T, 3), "global_orient"
    (T, 3), "body_pose" (T, 63), "joints" (T, 22, 3)}, float32, world frame. With partner=None,
    `frames` frames of motion in the scene alone (the HHI module is then off)."""
    req = Request(partner, intent, weights, seed, fps, scene, start, partner_history, frames=frames)
    return generate_batch([req], runtime, progress, refine, segment_frames, device)[0]
