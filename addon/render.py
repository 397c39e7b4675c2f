"""Render a preview of the shot with Workbench to an .mp4 (bpy; works headless)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _frame_camera(context, focus, start, end):
    """A camera looking at the characters' joints over the whole range, when the shot has none."""
    import bpy
    from mathutils import Vector

    points = []
    scene = context.scene
    for frame in range(start, end + 1, max(1, (end - start) // 10)):
        scene.frame_set(frame)
        depsgraph = context.evaluated_depsgraph_get()
        for obj in focus:
            ev = obj.evaluated_get(depsgraph)
            mw = ev.matrix_world
            if obj.type == "ARMATURE":
                points += [mw @ pb.head for pb in ev.pose.bones]
            else:
                points.append(mw.translation)
    pts = np.array([tuple(p) for p in points]) if points else np.zeros((1, 3))
    centre = (pts.min(0) + pts.max(0)) / 2
    extent = float(np.linalg.norm(pts.max(0) - pts.min(0))) + 1.0
    cam = bpy.data.objects.new("ReMoGen Camera", bpy.data.cameras.new("ReMoGen Camera"))
    scene.collection.objects.link(cam)
    eye = Vector(centre) + Vector((0.0, -1.0, 0.35)).normalized() * extent * 1.6
    cam.location = eye
    cam.rotation_euler = (Vector(centre) - eye).to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam
    return cam


def render_workbench_mp4(context, path: str, start: int, end: int, resolution: str = "640x360", focus=()):
    import bpy

    scene = context.scene
    try:
        width, height = (int(v) for v in resolution.lower().split("x"))
    except ValueError:
        raise ValueError(f"--resolution must look like 640x360, got {resolution!r}") from None
    if scene.camera is None:
        _frame_camera(context, [o for o in focus if o is not None], start, end)
    render = scene.render
    scene.render.engine = "BLENDER_WORKBENCH"
    render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
    settings = render.image_settings
    if "media_type" in settings.bl_rna.properties:  # Blender 5.0: pick video before the format
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    render.ffmpeg.format = "MPEG4"
    render.ffmpeg.codec = "H264"
    render.ffmpeg.constant_rate_factor = "MEDIUM"
    render.use_file_extension = False
    scene.frame_start, scene.frame_end = start, end
    render.filepath = str(Path(bpy.path.abspath(path)).resolve())
    Path(render.filepath).parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.render.render(animation=True)
    if not Path(render.filepath).is_file():
        raise OSError(f"rendering produced no file at {render.filepath}")
