"""The scene a reaction happens in: a world occupancy grid, checked once and prepared for
ego-centric sampling.

Convention (as the wire protocol and the add-on): `occupancy[i, j, k]` is the voxel whose
*centre* is `origin + voxel_size * (i, j, k)`, world frame, Z up, metres. (The training scenes
from `data.scene_occupancy` keep the voxel's min corner as origin; `SceneGrid.from_corner`
converts.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..models.interaction import pool_to_cell

MAX_SCENE_CELLS = 256 ** 3


@dataclass
class SceneGrid:
    occupancy: np.ndarray  # (X, Y, Z) bool
    origin: np.ndarray     # (3,) world position of the centre of voxel (0, 0, 0)
    voxel_size: float      # metres

    @classmethod
    def from_corner(cls, occupancy: np.ndarray, corner: np.ndarray, voxel_size: float) -> "SceneGrid":
        return cls(occupancy, np.asarray(corner, np.float64) + voxel_size / 2, voxel_size)

    def validate(self, name: str = "scene") -> "SceneGrid":
        """A checked copy: ValueError naming the problem for anything a model cannot use."""
        occ = np.asarray(self.occupancy)
        if occ.ndim != 3:
            raise ValueError(f"{name}: occupancy must be a 3D (X, Y, Z) grid, got shape {occ.shape}")
        if occ.size == 0:
            raise ValueError(f"{name}: occupancy grid is empty (shape {occ.shape}); pass scene=None for no scene")
        if occ.size > MAX_SCENE_CELLS:
            raise ValueError(f"{name}: occupancy grid has {occ.size} cells; the limit is {MAX_SCENE_CELLS}")
        if occ.dtype != bool:
            if not np.issubdtype(occ.dtype, np.number) or not np.isin(occ, (0, 1)).all():
                raise ValueError(f"{name}: occupancy must be bool (or 0/1), got dtype {occ.dtype}")
            occ = occ.astype(bool)
        origin = np.asarray(self.origin, dtype=np.float64)
        if origin.shape != (3,) or not np.isfinite(origin).all():
            raise ValueError(f"{name}: origin must be 3 finite numbers, got {self.origin!r}")
        voxel = self.voxel_size
        if isinstance(voxel, bool) or not isinstance(voxel, (int, float, np.floating)) or not np.isfinite(voxel) \
                or not 1e-3 <= float(voxel) <= 2.0:
            raise ValueError(f"{name}: voxel_size must be a number in [0.001, 2] metres, got {voxel!r}")
        return SceneGrid(occ, origin, float(voxel))

    @property
    def occupied(self) -> int:
        return int(np.count_nonzero(self.occupancy))


@dataclass
class PreparedScene:
    """A world grid ready for `interaction.local_occupancy` on a device: max-pooled to about the
    ego grid's cell size (thin walls survive the coarser sampling), origin as the min corner."""

    occupancy: torch.Tensor  # (X, Y, Z) bool
    corner: torch.Tensor     # (3,)
    voxel: float

    @classmethod
    def build(cls, scene: SceneGrid, cell: float, device) -> "PreparedScene":
        occ = torch.as_tensor(scene.occupancy, device=device)
        factor = max(1, int(np.floor(cell / scene.voxel_size + 1e-6)))
        pooled, voxel = pool_to_cell(occ, scene.voxel_size, scene.voxel_size * factor) if factor > 1 \
            else (occ, scene.voxel_size)
        corner = torch.as_tensor(scene.origin - scene.voxel_size / 2, dtype=torch.float32, device=device)
        return cls(pooled, corner, float(voxel))


def as_scene_grid(scene) -> SceneGrid | None:
    """Accept our SceneGrid or any object with occupancy/origin/voxel_size (or `.grid` as the
    server's Occupancy has); None stays None."""
    if scene is None or isinstance(scene, SceneGrid):
        return scene
    occ = getattr(scene, "occupancy", getattr(scene, "grid", None))
    voxel = getattr(scene, "voxel_size", None)
    if occ is None or voxel is None or not hasattr(scene, "origin"):
        raise ValueError(f"scene must be a SceneGrid (occupancy, origin = centre of voxel 0, voxel_size), "
                         f"got {type(scene).__name__}")
    return SceneGrid(occ, scene.origin, voxel)
