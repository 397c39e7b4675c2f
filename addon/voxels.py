"""Occupancy grid -> a mesh of cubes for the viewport overlay (plain numpy)."""
from __future__ import annotations

import numpy as np

_CORNERS = np.array([[x, y, z] for z in (-0.5, 0.5) for y in (-0.5, 0.5) for x in (-0.5, 0.5)], dtype=np.float32)
_FACES = np.array([[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]], dtype=np.int32)


def voxel_centres(grid: np.ndarray, origin, voxel_size: float) -> np.ndarray:
    """(N, 3) world centres of the occupied cells; origin is the centre of voxel (0, 0, 0)."""
    idx = np.argwhere(np.asarray(grid, dtype=bool))
    return (np.asarray(origin, dtype=np.float32) + idx.astype(np.float32) * float(voxel_size)).astype(np.float32)


def cube_mesh(centres: np.ndarray, size: float, shrink: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (8N, 3) and quads (6N, 4) of one cube per centre, slightly shrunk so cells read apart."""
    verts = centres[:, None, :] + _CORNERS[None] * (size * shrink)
    faces = _FACES[None] + (8 * np.arange(len(centres), dtype=np.int32))[:, None, None]
    return verts.reshape(-1, 3), faces.reshape(-1, 4)
