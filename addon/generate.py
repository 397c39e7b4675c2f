"""One generation, shared by the CLI and the Generate operator (bpy on the main thread only).

`prepare` reads everything from the scene (partner joints per frame, scene triangles);
the backend call in between touches no bpy (the operator runs it on a worker thread);
`apply` writes the reaction onto a new SMPL-X rig or bakes it onto an existing one.

With an SMPL-X model file (`Request.smplx_model`, the user's SMPLX_NEUTRAL.npz) a created rig is
built on that file's exact rest skeleton and gets the skinned body mesh (backend verb
`body_mesh`, asked before generating so a bad file costs nothing). Baking onto an existing rig
ignores the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .rig.read_partner import read_partner_joints
from .rig.skeleton import BODY_JOINT_NAMES, find_rest_skeleton, load_rest_offsets


# The backend's caps (inference_backend/server/validation.py Limits; equal by a test), checked
# here too so an oversized scene fails before the backend is started.
MAX_SCENE_VERTICES = 2_000_000
MAX_SCENE_FACES = 4_000_000


class GenerateError(ValueError):
    """Bad request (missing objects, empty frame range, ...)."""


@dataclass
class Request:
    partner: str  # armature object name
    intent: str
    frame_start: int
    frame_end: int
    scene_objects: list[str] = field(default_factory=list)  # mesh object names
    weights: dict = field(default_factory=lambda: {"hhi": 1.0, "hsi": 1.0})
    seed: int = 0
    partner_map: str = "AUTO"
    target: str = ""  # existing armature to bake onto; "" = create an SMPL-X rig
    target_map: str = "AUTO"
    rest_skeleton: str = ""  # path of rest_skeleton.json
    voxel_size: float = 0.1
    replace: bool = False
    smplx_model: str = ""  # the user's SMPLX_NEUTRAL.npz: exact skeleton + skinned mesh on a created rig


@dataclass
class Prepared:
    request: Request
    fps: float
    partner: np.ndarray  # (T, 22, 3) float32
    scene_vertices: np.ndarray | None
    scene_faces: np.ndarray | None
    rest_offsets: np.ndarray  # (55, 3)
    body: dict | None = None  # the backend's body_mesh reply (vertices, faces, weights, rest_offsets)


def _object(bpy, name: str, kind: str, what: str):
    obj = bpy.data.objects.get(name)
    if obj is None:
        candidates = sorted(o.name for o in bpy.data.objects if o.type == kind)
        raise GenerateError(f"{what} {name!r} is not in the file; {kind.lower()} objects here: "
                            + (", ".join(candidates) or "none"))
    return obj


def prepare(context, request: Request) -> Prepared:
    import bpy

    from .scene_io import scene_meshes_triangles

    if request.frame_end < request.frame_start:
        raise GenerateError(f"empty frame range {request.frame_start}-{request.frame_end}")
    if not request.intent.strip():
        raise GenerateError("the intent text is empty")
    rest = load_rest_offsets(find_rest_skeleton(request.rest_skeleton or None))
    partner_obj = _object(bpy, request.partner, "ARMATURE", "partner")
    meshes = []
    for name in request.scene_objects:
        obj = _object(bpy, name, "MESH", "scene object")
        if obj.type != "MESH":
            raise GenerateError(f"scene object {name!r} is a {obj.type.lower()}, not a mesh")
        meshes.append(obj)
    if request.target:
        target = _object(bpy, request.target, "ARMATURE", "target")
        if target.type != "ARMATURE":
            raise GenerateError(f"target {request.target!r} is a {target.type.lower()}, not an armature")
        if not set(BODY_JOINT_NAMES) <= {b.name for b in target.data.bones}:
            from .rig.bake import check_target

            check_target(target, request.target_map)  # fails before the backend runs
    elif request.smplx_model:
        check_smplx_model(request.smplx_model)
    check_partner_range(partner_obj, request.frame_start, request.frame_end)
    verts = faces = None
    if meshes:
        depsgraph = context.evaluated_depsgraph_get()
        for obj in meshes:
            if len(obj.evaluated_get(depsgraph).data.polygons) == 0:
                raise GenerateError(f"scene object {obj.name!r} has no faces (only vertices or edges); "
                                    "the scene needs a surface to voxelize")
        verts, faces = scene_meshes_triangles(meshes, depsgraph)
        if len(faces) > MAX_SCENE_FACES or len(verts) > MAX_SCENE_VERTICES:
            raise GenerateError(f"the scene ({', '.join(o.name for o in meshes)}) has {len(faces):,} triangles and "
                                f"{len(verts):,} vertices; the backend accepts at most {MAX_SCENE_FACES:,} and "
                                f"{MAX_SCENE_VERTICES:,}: decimate it or pick fewer objects")
    frames = range(request.frame_start, request.frame_end + 1)
    partner = read_partner_joints(context, partner_obj, frames, request.partner_map)
    scene = context.scene
    fps = scene.render.fps / scene.render.fps_base
    return Prepared(request, fps, partner, verts, faces, rest)


def check_smplx_model(path: str) -> None:
    """The configured SMPL-X model file exists and is an .npz (its content is checked by the backend)."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise GenerateError(f"the SMPL-X model file {path!r} (preferences: SMPL-X Model) does not exist; "
                            "point it at your SMPLX_NEUTRAL.npz or clear it")
    if file.suffix.lower() != ".npz":
        raise GenerateError(f"the SMPL-X model file {path!r} is not an .npz; SMPL-X ships SMPLX_NEUTRAL.npz "
                            "(the .pkl files are not read)")


def check_partner_range(obj, start: int, end: int) -> None:
    """An animated partner must be animated over the requested frames (a static one is fine)."""
    anim = obj.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        return
    lo, hi = action.frame_range
    if start < int(lo) - 1 or end > int(hi + 0.999) + 1:
        raise GenerateError(f"frames {start}-{end} are outside the partner {obj.name!r}'s animation "
                            f"(frames {lo:g}-{hi:g} of action {action.name!r}); choose a range inside it")


def call_backend(client, prepared: Prepared, on_progress=None) -> dict:
    """Open a session, generate over the whole partner sequence, close. No bpy: thread-safe."""
    req = prepared.request
    if req.smplx_model and not req.target:
        try:
            prepared.body = client.body_mesh(req.smplx_model)
        except Exception as exc:
            from .client import BackendError

            if isinstance(exc, BackendError) and exc.type == "bad_request":
                raise GenerateError(f"the SMPL-X model file (preferences: SMPL-X Model) cannot be used: {exc.message}") from None
            raise
    scene = {}
    if prepared.scene_vertices is not None and len(prepared.scene_faces):
        scene = {"scene_vertices": prepared.scene_vertices, "scene_faces": prepared.scene_faces,
                 "voxel_size": req.voxel_size}
    session = client.open_session(req.intent, weights=req.weights, seed=req.seed, fps=prepared.fps, **scene)
    try:
        reaction = client.generate(session, prepared.partner, on_progress=on_progress)
    finally:
        try:
            client.close_session(session)
        except Exception:  # the session may be gone with a dead backend; the real error is raised
            pass
    frames = len(prepared.partner)
    for key in ("transl", "global_orient", "body_pose"):
        if key not in reaction or len(reaction[key]) != frames:
            got = None if key not in reaction else np.shape(reaction[key])
            raise GenerateError(f"the backend returned {key} with shape {got} for {frames} partner frames")
    return reaction


def apply(context, prepared: Prepared, reaction: dict):
    """Write the reaction; returns (armature object, action)."""
    import bpy

    from .rig import keys
    from .rig.bake import bake_reaction
    from .rig.create_rig import bone_rest, create_smplx_rig
    from .rig.skeleton import BODY_JOINT_NAMES
    from .rig.write_keys import next_action_name, write_pose_action

    req = prepared.request
    if req.target:
        obj = bpy.data.objects[req.target]
        names = {b.name for b in obj.data.bones}
        if not set(BODY_JOINT_NAMES) <= names:
            return obj, bake_reaction(obj, reaction, prepared.rest_offsets, req.frame_start, req.intent,
                                      preset=req.target_map, replace=req.replace)
    else:
        offsets = prepared.rest_offsets
        if prepared.body is not None:
            offsets = np.asarray(prepared.body["rest_offsets"], dtype=np.float64)
        obj = create_smplx_rig(offsets, name=f"ReMoGen {req.intent[:30]}", context=context)
        if prepared.body is not None:
            from .rig.body_mesh import add_body_mesh

            add_body_mesh(obj, prepared.body, offsets, context=context)
    rots, heads = bone_rest(obj, BODY_JOINT_NAMES)
    local, transl = keys.local_rotations(reaction)
    quats, loc = keys.pose_channels(local, transl, rots, heads[0], np.array(obj.matrix_world))
    action = write_pose_action(obj, list(BODY_JOINT_NAMES), quats, loc, req.frame_start,
                               next_action_name(req.intent), replace=req.replace)
    return obj, action
