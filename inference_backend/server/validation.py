"""Checks on every request before it reaches a model: fields, shapes, dtypes, finiteness, caps.

Each check raises ``WireError`` whose message names the field and says what was expected, so
the client can show it as is. Nothing here trusts the header: every type is checked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inference_backend.models.mixing import MAX_ALPHA

from .protocol import WireError

BODY_JOINTS = 22


@dataclass(frozen=True)
class Limits:
    """Caps that bound memory and time per request."""

    max_message_bytes: int = 256 * 1024 * 1024
    max_preauth_bytes: int = 64 * 1024  # before the token is checked, frames stay tiny
    max_frames: int = 100_000  # partner sequence for generate (~55 min at 30 fps)
    max_history: int = 1_000
    max_vertices: int = 2_000_000
    max_faces: int = 4_000_000
    max_grid_cells: int = 256 ** 3
    max_surface_cells: int = 8_000_000  # mesh area / voxel area: bounds voxelization time and memory
    max_intent_chars: int = 1_000
    max_modules: int = 16
    max_sessions_per_connection: int = 16
    max_connections: int = 64
    frame_timeout_s: float = 30.0  # a frame once begun must arrive within this time


def bad(message: str):
    raise WireError("bad_request", message)


def _check_names(present, kind: str, verb: str, required: tuple, optional: tuple) -> None:
    """Refuse missing and unknown names (a typo must not silently fall back to a default)."""
    allowed = set(required) | set(optional)
    for name in required:
        if name not in present:
            bad(f"{verb}: missing {kind} {name!r}")
    for name in present:
        if name not in allowed:
            bad(f"{verb}: unknown {kind} {name!r}; allowed: {', '.join(sorted(allowed)) or 'none'}")


def check_fields(fields: dict, verb: str, required: tuple = (), optional: tuple = ()) -> None:
    _check_names(fields, "field", verb, required, optional)


def check_array_names(arrays: dict, verb: str, required: tuple = (), optional: tuple = ()) -> None:
    _check_names(arrays, "array", verb, required, optional)


def string(fields: dict, name: str, max_chars: int, default: str | None = None) -> str:
    value = fields.get(name, default)
    if not isinstance(value, str):
        bad(f"field {name!r} must be a string")
    if len(value) > max_chars:
        raise WireError("too_large", f"field {name!r} has {len(value)} characters; the limit is {max_chars}")
    return value


def number(fields: dict, name: str, low: float, high: float, default: float | None = None) -> float:
    value = fields.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        bad(f"field {name!r} must be a finite number")
    if not low <= value <= high:
        bad(f"field {name!r} = {value} is outside [{low}, {high}]")
    return float(value)


def integer(fields: dict, name: str, low: int, high: int, default: int | None = None) -> int:
    value = fields.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        bad(f"field {name!r} must be an integer")
    if not low <= value <= high:
        bad(f"field {name!r} = {value} is outside [{low}, {high}]")
    return value


def boolean(fields: dict, name: str, default: bool) -> bool:
    value = fields.get(name, default)
    if not isinstance(value, bool):
        bad(f"field {name!r} must be true or false")
    return value


def weights(fields: dict, name: str, limits: Limits, known: tuple | None) -> dict[str, float]:
    """Module mixing weights: {module name: alpha}, alphas finite in [0, MAX_ALPHA] (the runtime's
    range, `inference_backend.models.mixing.MAX_ALPHA`)."""
    value = fields.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        bad(f"field {name!r} must be an object of module name -> weight")
    if len(value) > limits.max_modules:
        raise WireError("too_large", f"field {name!r} names {len(value)} modules; the limit is {limits.max_modules}")
    out = {}
    for module, alpha in value.items():
        if len(module) > 64:
            bad(f"field {name!r}: module names are at most 64 characters")
        if known is not None and module not in known:
            bad(f"field {name!r}: unknown module {module!r}; available: {', '.join(known) or 'none'}")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) \
                or not 0.0 <= alpha <= MAX_ALPHA:
            bad(f"field {name!r}: weight of {module!r} must be a finite number in [0, {MAX_ALPHA:g}]")
        out[module] = float(alpha)
    return out


def array(arrays: dict, name: str, dtype: str, shape: tuple, finite: bool = True) -> np.ndarray:
    """``arrays[name]`` with the given dtype and shape; ``None`` in ``shape`` matches any size."""
    value = arrays[name]
    if value.dtype != np.dtype(dtype):
        bad(f"array {name!r} has dtype {value.dtype}; expected {dtype}")
    if value.ndim != len(shape) or any(want is not None and got != want for got, want in zip(value.shape, shape)):
        pretty = "(" + ", ".join("N" if n is None else str(n) for n in shape) + ")"
        bad(f"array {name!r} has shape {tuple(value.shape)}; expected {pretty}")
    if finite and value.dtype.kind == "f" and not np.isfinite(value).all():
        bad(f"array {name!r} contains NaN or infinite values")
    return value


def joints(arrays: dict, name: str) -> np.ndarray:
    """One partner frame of the 22 SMPL-X body joints, (22, 3) float32, world Z-up metres."""
    return array(arrays, name, "float32", (BODY_JOINTS, 3))


def joint_sequence(arrays: dict, name: str, max_frames: int) -> np.ndarray:
    value = array(arrays, name, "float32", (None, BODY_JOINTS, 3))
    if not 1 <= len(value) <= max_frames:
        (bad if len(value) == 0 else _too_large)(f"array {name!r} has {len(value)} frames; allowed 1-{max_frames}")
    return value


def _too_large(message: str):
    raise WireError("too_large", message)


def mesh(arrays: dict, limits: Limits, prefix: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Triangle mesh: vertices (V, 3) float32 finite, faces (F, 3) int32 indexing them."""
    vertices = array(arrays, prefix + "vertices", "float32", (None, 3))
    faces = array(arrays, prefix + "faces", "int32", (None, 3))
    if len(vertices) > limits.max_vertices:
        _too_large(f"mesh has {len(vertices)} vertices; the limit is {limits.max_vertices}")
    if len(faces) > limits.max_faces:
        _too_large(f"mesh has {len(faces)} faces; the limit is {limits.max_faces}")
    if len(faces) == 0:
        bad("mesh has no faces")
    if faces.min() < 0 or faces.max() >= len(vertices):
        bad(f"mesh faces index vertices outside [0, {len(vertices)})")
    return vertices, faces


def voxel_work(vertices: np.ndarray, faces: np.ndarray, voxel_size: float, limits: Limits) -> tuple[int, int, int]:
    """Refuse voxelizations whose grid (bounding box) or surface sampling (area) would be huge;
    returns the grid dimensions."""
    corners = vertices.astype(np.float64)[faces]  # (F, 3, 3)
    area = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1).sum()
    if area / voxel_size**2 > limits.max_surface_cells:
        _too_large(f"a mesh surface of {area:.4g} m² at voxel size {voxel_size} m covers ~{area / voxel_size**2:.3g} "
                   f"voxels; the limit is {limits.max_surface_cells}: use a larger voxel size")
    return grid_cells(vertices, voxel_size, limits)


def grid_cells(vertices: np.ndarray, voxel_size: float, limits: Limits) -> tuple[int, int, int]:
    """The grid a mesh's bounding box needs at ``voxel_size``; refused above the cell cap."""
    extent = vertices.max(axis=0).astype(np.float64) - vertices.min(axis=0)
    dims = tuple(int(n) for n in np.floor(extent / voxel_size) + 2)
    if math.prod(dims) > limits.max_grid_cells:
        _too_large(f"voxel size {voxel_size} m over a {extent.round(2).tolist()} m mesh needs a {dims} grid "
                   f"({math.prod(dims)} cells); the limit is {limits.max_grid_cells}: use a larger voxel size")
    return dims


def occupancy(arrays: dict, name: str, limits: Limits) -> np.ndarray:
    grid = array(arrays, name, "uint8", (None, None, None))
    if grid.size > limits.max_grid_cells:
        _too_large(f"array {name!r} has {grid.size} cells; the limit is {limits.max_grid_cells}")
    if grid.size == 0:
        bad(f"array {name!r} is empty")
    if grid.max() > 1:
        bad(f"array {name!r} must hold 0 (free) or 1 (occupied)")
    return grid.astype(bool)
