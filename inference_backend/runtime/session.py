"""`ReactionSession`: the reaction, online, one partner frame in, one reaction frame out.

    rt = load_runtime()                          # once per process; sessions share it
    s = ReactionSession("shakes hands with the partner", runtime=rt)
    for partner_frame in stream:                 # (22, 3) world joints, Z up, metres
        out = s.step(partner_frame)              # transl (3,), global_orient (3,), body_pose (63,),
                                                 # joints (22, 3): float32, world frame

Causal: the output for partner frame t depends only on partner frames <= t (and the history
given at open). Segment work (the 10-step diffusion) is pipelined by default: the next
segment's diffusion starts from the current segment's predicted last frames and runs a step or
two after each emitted frame (the steps for frame k use the partner window of frame k), on a
worker thread, so no single frame pays for a whole segment and the work overlaps the time
between frames. The worker runs the same steps with the same inputs as inline pipelining
(`background=False`), so the result does not depend on timing. `pipeline=False` denoises each
segment on the frame that starts it, exactly as batch `generate` does. Latencies of all three:
docs/modules.md.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ..models.features import FUTURE
from . import checks
from .batch import Cancelled, generate, generate_batch, Request  # noqa: F401 (public API)
from .clock import PartnerClock
from .engine import Engine, spread
from .model import Runtime, default_runtime, load_runtime  # noqa: F401 (public API)
from .poses import blend, default_start, smplx_output, start_from_dict
from .scene import PreparedScene, SceneGrid  # noqa: F401 (public API)


def window_length(runtime: Runtime) -> int:
    """Partner frames the modules and the refiner look back over (current frame included)."""
    lengths = [16] + [m.config.window for m in runtime.modules.values() if m.kind == "hhi"]
    if runtime.refiner is not None:
        lengths.append(runtime.refiner.config.window)
    return max(lengths)


class ReactionSession:
    def __init__(self, intent: str, weights: dict[str, float] | None = None, seed: int = 0, fps: float = 30.0,
                 partner_history: np.ndarray | None = None, scene: SceneGrid | None = None,
                 start: dict | None = None, device: str = "cpu", runtime: Runtime | None = None,
                 refine: bool = True, pipeline: bool = True, background: bool = True,
                 segment_frames: int = FUTURE):
        self.runtime = runtime if runtime is not None else default_runtime(device)
        self.request = Request(partner=np.zeros((0, 22, 3), np.float32), intent=intent, weights=weights, seed=seed,
                               fps=fps, scene=scene, start=start, partner_history=partner_history)
        req = self.request.checked(self.runtime)
        self.request = req
        self.alphas = req.alphas
        self.pipeline = pipeline and segment_frames == FUTURE
        # The early diffusion steps run on a worker thread (torch releases the GIL, so it uses the
        # second core) in the same order and with the same inputs as inline: same result.
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="remogen-segment") if self.pipeline and background \
            else None
        self.jobs: list = []
        self.schedule = spread(self.runtime.prior.diffusion.steps, FUTURE)
        self.clock = PartnerClock(req.fps, req.partner_history)
        self.window = window_length(self.runtime)
        self.partner = deque((x for _, x in self.clock.history_frames), maxlen=self.window)
        rt = self.runtime
        scene = None if req.scene is None else PreparedScene.build(req.scene, 0.125, rt.device)
        alphas = {n: torch.tensor([a]) for n, a in req.alphas.items()}
        self.engine = Engine(rt, rt.text(req.intent)[None], alphas, [scene], [req.seed], refine=refine,
                             segment_frames=segment_frames)
        self.start = None if req.start is None else start_from_dict(req.start)
        self.poses: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.frames = 0

    def _window(self) -> torch.Tensor:
        frames = list(self.partner)
        frames = [frames[0]] * (self.window - len(frames)) + frames
        return torch.as_tensor(np.stack(frames), device=self.runtime.device)[None]  # (1, W, 22, 3)

    def _advance(self, m: int) -> None:
        """Generate model frame m (the partner buffer ends at m)."""
        eng = self.engine
        if eng.transl is None:
            transl, rot = self.start if self.start is not None else \
                default_start(self.partner[-1], self.runtime.prior.offsets.cpu().numpy(),
                              self.runtime.prior.standing)
            eng.start(torch.as_tensor(transl)[None], torch.as_tensor(rot)[None])
        window = self._window()
        seg = eng.segment
        if seg is None or m - seg.start >= eng.segment_frames:
            self._join()
            eng.begin_segment(m, window, eng.take_pending() if self.pipeline else None)
        k = m - eng.segment.start
        if self.pipeline and k == 0:
            (transl, rot), (full_t, full_r) = eng.emit([k], window[:, None], full=True)
            eng.begin_pending(full_t[:, -3:], full_r[:, -3:])
        else:
            transl, rot = eng.emit([k], window[:, None])
        eng.push(transl, rot)
        self.poses[m] = (transl[0, 0], rot[0, 0])
        if self.pipeline:
            if self.worker is None:
                eng.advance_pending(self.schedule[k], window)
            else:
                self.jobs.append(self.worker.submit(eng.advance_pending, self.schedule[k], window))

    def _join(self) -> None:
        """Wait for the early diffusion steps submitted so far (re-raising their errors)."""
        jobs, self.jobs = self.jobs, []
        for job in jobs:
            job.result()

    def close(self) -> None:
        """Stop the worker thread (also done when the session is garbage collected)."""
        if self.worker is not None:
            self._join()
            self.worker.shutdown(wait=True)
            self.worker = None

    def __del__(self):
        worker = getattr(self, "worker", None)
        if worker is not None:
            worker.shutdown(wait=False)

    @torch.no_grad()
    def step(self, partner_frame: np.ndarray) -> dict[str, np.ndarray]:
        """The reaction frame for the newest partner frame (22, 3) world joints."""
        frame = checks.joints_array(partner_frame, "partner_frame", sequence=False)
        new, emit = self.clock.push(frame)
        for m, joints in new:
            self.partner.append(joints)
            if m >= 0:
                self._advance(m)
        lo_t, lo_r = self.poses[emit.lo]
        if emit.hi != emit.lo:
            hi_t, hi_r = self.poses[emit.hi]
            lo_t, lo_r = blend(lo_t, lo_r, hi_t, hi_r, emit.w)
        for old in [m for m in self.poses if m < emit.lo]:
            del self.poses[old]
        self.frames += 1
        return smplx_output(lo_t, lo_r, self.runtime.prior.offsets)

    def generate(self, partner: np.ndarray, progress=None) -> dict[str, np.ndarray]:
        """A whole shot with this session's settings (intent, weights, seed, fps, scene, start,
        partner history), independent of what `step` has done: (T, ...) arrays."""
        req = self.request
        return generate(partner, req.intent, req.weights, req.seed, req.fps, req.scene, progress=progress,
                        runtime=self.runtime, partner_history=req.partner_history, start=req.start,
                        refine=self.engine.refiner is not None, segment_frames=self.engine.segment_frames)
