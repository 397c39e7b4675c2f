"""The skinned SMPL-X body on a created rig, from the user's own model file (bpy).

The backend's `body_mesh` verb gives the rest mesh (Z up, pelvis at the origin), its faces and
SMPL-X's skinning weights for the 55 joints; the rig is built from the same file's exact rest
skeleton, so the mesh only needs the rig's lift onto the floor. Each joint's weights go into a
vertex group named after its bone (the bones carry SMPL-X joint names) and an Armature modifier
deforms the mesh: Blender's linear blend skinning with SMPL-X's weights is SMPL-X's own LBS
(without its pose correctives).
"""
from __future__ import annotations

import bpy
import numpy as np

from .skeleton import JOINT_NAMES, rest_positions, standing_rest_positions

MIN_WEIGHT = 1e-4  # weights below this are left out of the vertex groups (SMPL-X's are dense)


class BodyMeshError(ValueError):
    """The body mesh data does not fit the rig."""


def rig_lift(offsets: np.ndarray) -> np.ndarray:
    """(3,) how far the created rig moved the rest skeleton up to stand on the floor."""
    return standing_rest_positions(offsets)[0] - rest_positions(offsets)[0]


def add_body_mesh(rig, mesh: dict, offsets: np.ndarray, name: str | None = None, context=None):
    """A mesh object skinned to `rig` (created from `offsets`); returns it.

    mesh: {"vertices" (V, 3), "faces" (F, 3), "weights" (V, 55)} from the backend's body_mesh."""
    context = context or bpy.context
    verts = np.asarray(mesh["vertices"], dtype=np.float64)
    faces = np.asarray(mesh["faces"], dtype=np.int64)
    weights = np.asarray(mesh["weights"], dtype=np.float64)
    if verts.ndim != 2 or verts.shape[1] != 3 or weights.shape != (len(verts), len(JOINT_NAMES)):
        raise BodyMeshError(f"body mesh: vertices {verts.shape} and weights {weights.shape} do not fit "
                            f"{len(JOINT_NAMES)} SMPL-X joints")
    missing = [n for n in JOINT_NAMES if n not in rig.data.bones]
    if missing:  # a body-only rig: hand/face weights go to the nearest existing ancestor
        weights = _fold_missing(weights, rig)
    verts = verts + rig_lift(offsets)

    data = bpy.data.meshes.new(name or f"{rig.name} Body")
    data.vertices.add(len(verts))
    data.vertices.foreach_set("co", verts.astype(np.float32).ravel())
    data.loops.add(faces.size)
    data.loops.foreach_set("vertex_index", faces.astype(np.int32).ravel())
    data.polygons.add(len(faces))
    data.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    data.polygons.foreach_set("loop_total", np.full(len(faces), 3, dtype=np.int32))
    data.update(calc_edges=True)
    data.validate(clean_customdata=False)
    data.shade_smooth()

    obj = bpy.data.objects.new(data.name, data)
    for collection in rig.users_collection or (context.scene.collection,):
        collection.objects.link(obj)
    obj.parent = rig
    for j, joint in enumerate(JOINT_NAMES):
        column = weights[:, j]
        idx = np.nonzero(column >= MIN_WEIGHT)[0]
        if not len(idx):
            continue
        group = obj.vertex_groups.new(name=joint)
        # one call per distinct weight: rigid parts (weight 1) go in at once
        values, inverse = np.unique(column[idx], return_inverse=True)
        for k, value in enumerate(values):
            group.add(idx[inverse == k].tolist(), float(value), "REPLACE")
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = rig
    modifier.use_vertex_groups = True
    return obj


def _fold_missing(weights: np.ndarray, rig) -> np.ndarray:
    from .skeleton import PARENTS

    out = weights.copy()
    for j in range(len(JOINT_NAMES) - 1, -1, -1):  # children before parents
        if JOINT_NAMES[j] not in rig.data.bones:
            p = PARENTS[j]
            if p >= 0:
                out[:, p] += out[:, j]
            out[:, j] = 0.0
    return out
