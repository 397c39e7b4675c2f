"""Mesh → occupancy grid with trimesh, cached by content hash.

The add-on sends the same scene mesh every time a session opens or a shot is regenerated;
hashing the bytes (vertices, faces, voxel size, fill) lets repeats cost one hash instead of a
voxelization. Grid convention: ``grid[i, j, k]`` is the voxel whose centre is
``origin + voxel_size * (i, j, k)`` in world coordinates (Z up, metres).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import trimesh


@dataclass(frozen=True)
class Occupancy:
    grid: np.ndarray  # (X, Y, Z) bool
    origin: np.ndarray  # (3,) float32, centre of voxel (0, 0, 0)
    voxel_size: float


def voxelize(vertices: np.ndarray, faces: np.ndarray, voxel_size: float, fill: bool = False) -> Occupancy:
    """Surface voxels of the mesh; with ``fill``, enclosed cavities are filled too (solid props —
    but a closed room would fill up, so scenes default to surfaces).

    Same lattice and sampling rule as trimesh's ``voxelize_subdivide`` (voxel centres at integer
    multiples of the voxel size; the surface sampled at least every half voxel), but sampled on
    a barycentric grid per triangle in vectorised chunks instead of subdividing the mesh: large
    floor/wall triangles made that take seconds."""
    vertices = np.asarray(vertices, np.float64)
    corners = vertices[np.asarray(faces, np.int64)]  # (F, 3, 3)
    lo = np.round(vertices.min(axis=0) / voxel_size).astype(np.int64)
    hi = np.round(vertices.max(axis=0) / voxel_size).astype(np.int64)
    grid = np.zeros(tuple(hi - lo + 1), dtype=bool)
    longest = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2).max(axis=1)
    steps = np.maximum(np.ceil(longest / (voxel_size / 2)).astype(np.int64), 1)  # samples per edge - 1
    for n in np.unique(steps):
        weights = _barycentric_grid(int(n))  # (K, 3)
        group = corners[steps == n]
        chunk = max(1, SAMPLE_CHUNK // len(weights))
        for start in range(0, len(group), chunk):
            points = np.einsum("kc,fcd->fkd", weights, group[start:start + chunk]).reshape(-1, 3)
            index = np.round(points / voxel_size).astype(np.int64) - lo
            np.clip(index, 0, np.array(grid.shape) - 1, out=index)  # rounding at the very edge
            grid[index[:, 0], index[:, 1], index[:, 2]] = True
    if fill:
        grid = np.asarray(trimesh.voxel.VoxelGrid(grid).fill().matrix, dtype=bool)
    return Occupancy(grid, (lo * voxel_size).astype(np.float32), float(voxel_size))


SAMPLE_CHUNK = 1 << 20  # surface points per vectorised batch (bounds memory)


def _barycentric_grid(n: int) -> np.ndarray:
    """(K, 3) barycentric weights of the points i/n, j/n of a triangle, i + j <= n."""
    i, j = np.triu_indices(n + 1)
    i, j = j - i, i  # all pairs with i + j <= n
    return np.stack([i, j, n - i - j], axis=1).astype(np.float64) / n


def content_key(vertices: np.ndarray, faces: np.ndarray, voxel_size: float, fill: bool) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for part in (np.ascontiguousarray(vertices, "<f4"), np.ascontiguousarray(faces, "<i4")):
        digest.update(str(part.shape).encode())
        digest.update(part.tobytes())
    digest.update(repr((float(voxel_size), bool(fill))).encode())
    return digest.hexdigest()


class VoxelCache:
    """A small thread-safe LRU of recent voxelizations, bounded by total grid cells."""

    def __init__(self, max_cells: int = 64 * 1024 * 1024):
        self.max_cells = max_cells
        self._items: OrderedDict[str, Occupancy] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, vertices, faces, voxel_size: float, fill: bool = False) -> tuple[Occupancy, bool]:
        """(occupancy, whether it came from the cache)."""
        key = content_key(vertices, faces, voxel_size, fill)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key], True
        result = voxelize(vertices, faces, voxel_size, fill)
        with self._lock:
            self._items[key] = result
            while sum(o.grid.size for o in self._items.values()) > self.max_cells and len(self._items) > 1:
                self._items.popitem(last=False)
        return result, False
