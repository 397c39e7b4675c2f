"""Live preview bookkeeping (no bpy): which backend calls a new viewport frame needs.

The reaction is produced online: each new partner frame is stepped once, in order. Scrubbing
backwards (or jumping far ahead) restarts the session from the current frame, since a causal
model cannot un-see frames. Frames skipped while the backend was busy are filled by linear
interpolation between the last partner frame sent and the current one, so the model still sees
a continuous motion at the scene's frame rate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PreviewState:
    session: str | None = None
    last_frame: int | None = None
    last_partner: np.ndarray | None = None  # (22, 3) the last partner frame sent
    max_catch_up: int = 8  # frames; further jumps restart the session
    restarts: int = 0


def preview_tick(state: PreviewState, frame: int, partner_now: np.ndarray, open_session, step, close_session=None):
    """Advance to `frame`; returns the reaction pose for it (dict) or None when nothing changed.

    open_session(history (1, 22, 3)) -> session id; step(session, (22, 3)) -> pose dict;
    close_session(session) is called before a restart."""
    partner_now = np.asarray(partner_now, dtype=np.float32)
    if state.session is not None and frame == state.last_frame:
        return None
    jump = None if state.last_frame is None else frame - state.last_frame
    if state.session is None or jump is None or jump < 0 or jump > state.max_catch_up:
        if state.session is not None:
            state.restarts += 1
            if close_session is not None:
                close_session(state.session)
        state.session = open_session(partner_now[None])
        pose = step(state.session, partner_now)
    else:
        pose = None
        for k in range(1, jump + 1):
            w = k / jump
            frame_joints = partner_now if k == jump else (1 - w) * state.last_partner + w * partner_now
            pose = step(state.session, frame_joints.astype(np.float32))
    state.last_frame = frame
    state.last_partner = partner_now
    return pose
