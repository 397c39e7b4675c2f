"""The model's 30 fps clock against the user's frame rate, causally.

The prior runs at 30 fps; a shot may run at 24, 25, 60... Partner frame i arrives at time
i / fps. Model frame m (time m / 30) is generated as soon as an output frame needs it, and the
partner it sees is the partner interpolated at min(m / 30, now): never a frame that has not
arrived. Output frame i is the model pose at time i / fps, interpolated between the model
frames around it. At 30 fps everything is the identity: model frame i is output frame i.

`PartnerClock` is fed one partner frame at a time by the live session and by batch
generation alike, so both see exactly the same partner stream.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MODEL_FPS = 30.0
_EPS = 1e-6


@dataclass
class Emit:
    """What output frame i is made of: model frames lo and hi (= lo or lo + 1), blend w."""

    lo: int
    hi: int
    w: float


class PartnerClock:
    def __init__(self, fps: float, history: np.ndarray | None = None):
        self.ratio = MODEL_FPS / fps          # model frames per output frame
        self.obs_t: list[float] = []          # observation times, in model frames
        self.obs_x: list[np.ndarray] = []
        self.count = 0                        # output frames received
        self.next_model: int | None = None    # next model frame whose partner is not yet known
        self.history_frames: list[tuple[int, np.ndarray]] = []  # model-rate partner before frame 0
        if history is not None and len(history):
            h = len(history)
            self.next_model = math.ceil(-h * self.ratio - _EPS)
            for j, frame in enumerate(history):
                t = (j - h) * self.ratio
                self._observe(t, frame)
                self.history_frames += self._produce(math.floor(t + _EPS), t)

    def _observe(self, t: float, frame: np.ndarray) -> None:
        self.obs_t.append(t)
        self.obs_x.append(np.asarray(frame, dtype=np.float32))
        if len(self.obs_t) > 4:  # only the last two are ever interpolated between
            self.obs_t.pop(0)
            self.obs_x.pop(0)

    def _at(self, t: float) -> np.ndarray:
        ts = self.obs_t
        if t >= ts[-1] - _EPS:
            return self.obs_x[-1]
        for k in range(len(ts) - 1, 0, -1):
            if ts[k - 1] - _EPS <= t:
                w = (t - ts[k - 1]) / (ts[k] - ts[k - 1])
                return ((1 - w) * self.obs_x[k - 1] + w * self.obs_x[k]).astype(np.float32)
        return self.obs_x[0]

    def _produce(self, upto: int, now: float) -> list[tuple[int, np.ndarray]]:
        out = []
        while self.next_model <= upto:
            m = self.next_model
            out.append((m, self._at(min(float(m), now))))
            self.next_model += 1
        return out

    def push(self, frame: np.ndarray) -> tuple[list[tuple[int, np.ndarray]], Emit]:
        """Partner output frame i arrives -> (newly known model-rate partner frames [(m, joints)],
        how to build output frame i from model frames)."""
        i = self.count
        now = i * self.ratio
        self._observe(now, frame)
        if self.next_model is None:
            self.next_model = 0
        self.count += 1
        hi = math.ceil(now - _EPS)
        new = self._produce(hi, now)
        lo = math.floor(now + _EPS)
        w = now - lo
        if w < _EPS:
            return new, Emit(lo, lo, 0.0)
        return new, Emit(lo, lo + 1, w)
