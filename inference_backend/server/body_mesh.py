"""The `body_mesh` verb's work: the user's SMPL-X model file -> the skinned rest mesh (Z-up).

The add-on builds its rig from the file's exact rest skeleton and skins this mesh to it, so
everything here is in the add-on's frame: Z up, metres, pelvis at the origin (the rig lifts both
by the same amount to stand on the floor). Weights are SMPL-X's linear-blend-skinning weights for
its 55 joints, in SMPL-X joint order (the rig's bone names).

`SmplxBody` refuses pickled files before `smplx` (which loads with allow_pickle=True) sees them.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from inference_backend.body.smplx_model import SmplxBody, SmplxModelError


def load_body_mesh(model_path: str) -> dict:
    """{"vertices" (V, 3) f32, "faces" (F, 3) i32, "weights" (V, 55) f32, "rest_offsets" (55, 3) f32}."""
    path = Path(model_path).expanduser()
    body = SmplxBody(path)  # checks the file: exists, .npz, plain arrays (no pickle), SMPL-X
    zeros = np.zeros((1, 3))
    vertices = body.vertices(zeros, zeros, np.zeros((1, 63)))[0]  # rest pose, pelvis at the origin
    weights = body.model.lbs_weights.detach().cpu().numpy()
    faces = body.faces
    if weights.shape != (len(vertices), 55) or faces.ndim != 2 or faces.shape[1] != 3:
        raise SmplxModelError(f"{path}: skinning weights {weights.shape} or faces {faces.shape} do not fit "
                              f"{len(vertices)} vertices and 55 joints")
    if faces.min(initial=0) < 0 or faces.max(initial=0) >= len(vertices):
        raise SmplxModelError(f"{path}: faces index vertices outside 0..{len(vertices) - 1}")
    return {"vertices": vertices.astype(np.float32), "faces": faces.astype(np.int32),
            "weights": weights.astype(np.float32), "rest_offsets": body.rest_skeleton().offsets.astype(np.float32)}


class BodyMeshCache:
    """The last loaded file, keyed by path, size and modification time (loading takes ~1 s)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._key = None
        self._value = None

    def get(self, model_path: str) -> dict:
        path = Path(model_path).expanduser()
        try:
            stat = path.stat()
            key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        except OSError:
            key = None
        with self._lock:
            if key is not None and key == self._key:
                return self._value
            value = load_body_mesh(model_path)
            self._key, self._value = key, value
            return value
