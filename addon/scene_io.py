"""Scene geometry for the backend (bpy): world-space triangles of mesh objects."""
from __future__ import annotations

import numpy as np


def mesh_world_triangles(obj, depsgraph) -> tuple[np.ndarray, np.ndarray]:
    """(V, 3) float32 world vertices and (F, 3) int32 triangles of an object's evaluated mesh
    (modifiers applied), in metres."""
    ev = obj.evaluated_get(depsgraph)
    mesh = ev.to_mesh()
    try:
        mesh.calc_loop_triangles()
        verts = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
        mesh.vertices.foreach_get("co", verts)
        tris = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int32)
        mesh.loop_triangles.foreach_get("vertices", tris)
    finally:
        ev.to_mesh_clear()
    mw = np.array(ev.matrix_world, dtype=np.float64)
    verts = verts.reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]
    return verts.astype(np.float32), tris.reshape(-1, 3)


def scene_meshes_triangles(objects, depsgraph) -> tuple[np.ndarray, np.ndarray]:
    """Several mesh objects merged into one triangle soup."""
    all_v, all_f, offset = [], [], 0
    for obj in objects:
        v, f = mesh_world_triangles(obj, depsgraph)
        all_v.append(v)
        all_f.append(f + offset)
        offset += len(v)
    if not all_v:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32)
    return np.concatenate(all_v), np.concatenate(all_f)
