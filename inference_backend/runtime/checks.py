"""Input checks shared by the live session and batch generation: every bad input is a
ValueError that names the argument and the problem, before any model runs."""
from __future__ import annotations

import math

import numpy as np

from ..models.mixing import validate_weights
from .model import MODULE_NAMES, Runtime
from .scene import SceneGrid, as_scene_grid

J = 22
MAX_COORD = 1e4        # metres; anything beyond is a unit or data error, not a scene
MAX_INTENT_CHARS = 1000
FPS_RANGE = (1.0, 240.0)
MAX_FRAMES = 1_000_000


def joints_array(value, name: str, sequence: bool) -> np.ndarray:
    """(22, 3) or (T, 22, 3) finite float32 joint positions."""
    try:
        a = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a float array of joint positions, got {type(value).__name__}") from None
    want = "(T, 22, 3)" if sequence else "(22, 3)"
    if a.ndim != (3 if sequence else 2) or a.shape[-2:] != (J, 3):
        raise ValueError(f"{name} must have shape {want} (22 SMPL-X body joints, xyz), got {a.shape}")
    if not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0].tolist()
        raise ValueError(f"{name} has non-finite values (first at index {bad})")
    if np.abs(a).max(initial=0.0) > MAX_COORD:
        raise ValueError(f"{name} has coordinates beyond {MAX_COORD:g} m; joints must be in metres")
    return a


def intent_text(intent) -> str:
    if not isinstance(intent, str):
        raise ValueError(f"intent must be a string, got {type(intent).__name__}")
    if len(intent) > MAX_INTENT_CHARS:
        raise ValueError(f"intent has {len(intent)} characters; the limit is {MAX_INTENT_CHARS}")
    return intent


def seed_value(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2 ** 63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    return int(seed)


def fps_value(fps) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.floating)) or not math.isfinite(fps) \
            or not FPS_RANGE[0] <= fps <= FPS_RANGE[1]:
        raise ValueError(f"fps must be a number in [{FPS_RANGE[0]:g}, {FPS_RANGE[1]:g}], got {fps!r}")
    return float(fps)


def history_array(history) -> np.ndarray | None:
    """Partner frames before the first step. A zero-length history is the same as none: the
    partner is then taken to have stood still at its first streamed frame."""
    if history is None:
        return None
    a = joints_array(history, "partner_history", sequence=True)
    return a if len(a) else None


def scene_value(scene) -> SceneGrid | None:
    scene = as_scene_grid(scene)
    return None if scene is None else scene.validate()


def module_weights(weights, runtime: Runtime, scene: SceneGrid | None, has_partner: bool = True) -> dict[str, float]:
    """{name: α}. Defaults: HHI 1 when there is a partner (a live session always has one), HSI 1
    when the scene has any occupied voxel. Names of modules this runtime lacks are accepted and
    have no effect. HHI without a partner has nothing to react to: a weight > 0 is refused."""
    defaults = {"hhi": 1.0 if has_partner else 0.0, "hsi": 1.0 if scene is not None and scene.occupied > 0 else 0.0}
    known = tuple(dict.fromkeys((*MODULE_NAMES, *runtime.modules)))
    out = validate_weights(weights, known, defaults)
    if not has_partner and out.get("hhi", 0.0) > 0:
        raise ValueError("weights['hhi'] > 0 needs a partner; pass the partner sequence or set it to 0")
    return out
