"""Shared by the add-on's end-to-end tests: the CMU take 18_01 imported by Blender's BVH
importer as the partner (30 fps scene, keys scaled from 120 fps), the backend arguments that
serve the real runtime (trained weights, or the tiny random prior until they exist), and
readers for what a rig ended up doing."""
from __future__ import annotations

import hashlib
import sys
import tarfile
from pathlib import Path

import numpy as np

from tests.addon_runtime import BACKEND_ARGS

ROOT = Path(__file__).resolve().parents[1]
CMU_SCALE = 0.056444
BACKEND = [f"--backend-arg={a}" for a in BACKEND_ARGS] + ["--backend-dir", str(ROOT), "--backend-python",
                                                            sys.executable, "--device", "cpu"]


def make_shot(bpy, data_dir: Path, out: Path) -> Path:
    """shot.blend: the partner '18_01' (CMU skeleton) at 30 fps and a box 'Table'."""
    with tarfile.open(data_dir / "cmu" / "cmu_pairs_18-23_verified.tar.xz") as tf:
        tf.extract("pairs/18_01.bvh", out, filter="data")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    bpy.ops.import_anim.bvh(filepath=str(out / "pairs" / "18_01.bvh"), global_scale=CMU_SCALE,
                            use_fps_scale=True, update_scene_fps=False, update_scene_duration=True)
    bpy.ops.mesh.primitive_cube_add(size=0.8, location=(2.0, 2.0, 0.4))
    bpy.context.active_object.name = "Table"
    blend = out / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    return blend


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def datablocks(bpy) -> dict:
    """Names of the datablocks a generation could add (objects, actions, armatures, meshes)."""
    return {kind: sorted(x.name for x in getattr(bpy.data, kind)) for kind in ("objects", "actions", "armatures", "meshes")}


def world_heads(bpy, obj, names, frames) -> np.ndarray:
    """(T, len(names), 3) evaluated world head positions of `names` on `obj` per frame."""
    scene = bpy.context.scene
    out = np.empty((len(frames), len(names), 3))
    for t, frame in enumerate(frames):
        scene.frame_set(frame)
        ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        mw = np.array(ev.matrix_world)
        heads = np.array([ev.pose.bones[n].head for n in names])
        out[t] = heads @ mw[:3, :3].T + mw[:3, 3]
    return out


def keyed_frames(obj) -> dict:
    """bone name -> sorted set of keyed frames (every channel of the bone's rotation/location)."""
    anim = obj.animation_data
    action = anim.action
    try:
        fcurves = action.layers[0].strips[0].channelbag(anim.action_slot).fcurves
    except (AttributeError, IndexError):
        fcurves = action.fcurves
    out: dict = {}
    for fc in fcurves:
        if not fc.data_path.startswith('pose.bones["'):
            continue
        bone = fc.data_path.split('"')[1]
        frames = np.empty(len(fc.keyframe_points) * 2)
        fc.keyframe_points.foreach_get("co", frames)
        keys = frames.reshape(-1, 2)
        assert np.isfinite(keys).all(), f"NaN key on {fc.data_path}"
        out.setdefault(bone, []).append(tuple(np.round(keys[:, 0]).astype(int)))
    return out
