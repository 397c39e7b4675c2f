"""Render a preview of the shot with Workbench to an .mp4 (bpy; works headless).

Armatures do not show up in renders (bones are viewport overlays), so each armature in focus
gets a temporary stand-in body for the render: one tapered capsule per bone, rigidly skinned to
its bone. The stand-ins are made after the .blend is saved and are not part of the user's file.
"""
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
    spread = pts.max(0) - pts.min(0)
    side = (1.0, -0.25) if spread[1] > spread[0] else (0.25, -1.0)  # look across the main direction of travel
    eye = Vector(centre) + Vector((side[0], side[1], 0.3)).normalized() * max(extent * 1.3, 4.0)
    cam.location = eye
    cam.rotation_euler = (Vector(centre) - eye).to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam
    return cam


PROXY_COLOURS = ((0.95, 0.55, 0.15, 1.0), (0.20, 0.45, 0.85, 1.0))  # the reaction (first), the partner


def bone_capsules(bones, radius_scale: float = 0.12, segments: int = 8):
    """Vertices, faces and owning bone per vertex for capsule-like prisms along each bone.

    bones: iterable of (name, head (3,), tail (3,)) in armature space.
    """
    verts, faces, owners = [], [], []
    ring = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    for name, head, tail in bones:
        head, tail = np.asarray(head, float), np.asarray(tail, float)
        axis = tail - head
        length = float(np.linalg.norm(axis))
        if length < 0.01:
            continue
        axis /= length
        helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        u = np.cross(axis, helper)
        u /= np.linalg.norm(u)
        v = np.cross(axis, u)
        radius = min(0.06, max(0.015, radius_scale * length))
        start = len(verts)
        for centre, r in ((head, radius), (tail, radius * 0.7)):
            for a in ring:
                verts.append(centre + r * (np.cos(a) * u + np.sin(a) * v))
        verts += [head - axis * radius * 0.5, tail + axis * radius * 0.35]
        for i in range(segments):
            j = (i + 1) % segments
            faces.append((start + i, start + j, start + segments + j, start + segments + i))
            faces.append((start + 2 * segments, start + j, start + i))
            faces.append((start + 2 * segments + 1, start + segments + i, start + segments + j))
        owners += [name] * (2 * segments + 2)
    return np.array(verts, dtype=np.float32).reshape(-1, 3), faces, owners


def add_render_body(context, armature, colour):
    """A stand-in body mesh that follows `armature` (armature modifier, one vertex group per bone)."""
    import bpy

    bones = [(b.name, b.head_local, b.tail_local) for b in armature.data.bones]
    # Bridge unconnected children (pelvis -> hips, chest -> collars) so the body has no gaps.
    bones += [(b.parent.name, b.parent.head_local, b.head_local) for b in armature.data.bones
              if b.parent is not None and not b.use_connect]
    verts, faces, owners = bone_capsules(bones)
    mesh = bpy.data.meshes.new(f"{armature.name} render body")
    mesh.from_pydata(verts.tolist(), [], faces)
    obj = bpy.data.objects.new(mesh.name, mesh)
    context.scene.collection.objects.link(obj)
    obj.parent = armature
    obj.color = colour
    groups = {}
    for index, name in enumerate(owners):
        if name not in groups:
            groups[name] = obj.vertex_groups.new(name=name)
        groups[name].add([index], 1.0, "REPLACE")
    obj.modifiers.new("Armature", "ARMATURE").object = armature
    return obj


def render_workbench_mp4(context, path: str, start: int, end: int, resolution: str = "640x360", focus=()):
    import bpy

    scene = context.scene
    try:
        width, height = (int(v) for v in resolution.lower().split("x"))
    except ValueError:
        raise ValueError(f"--resolution must look like 640x360, got {resolution!r}") from None
    focus = [o for o in focus if o is not None]
    for index, obj in enumerate(o for o in focus if o.type == "ARMATURE"):
        add_render_body(context, obj, PROXY_COLOURS[index % len(PROXY_COLOURS)])
    scene.display.shading.color_type = "OBJECT"
    if scene.camera is None:
        _frame_camera(context, focus, start, end)
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


def render_still(context, path: str, frame: int) -> None:
    """One PNG of `frame` with the settings (camera, stand-in bodies) the video used."""
    import bpy

    scene = context.scene
    settings = scene.render.image_settings
    if "media_type" in settings.bl_rna.properties:
        settings.media_type = "IMAGE"
    settings.file_format = "PNG"
    scene.frame_set(frame)
    scene.render.filepath = str(Path(bpy.path.abspath(path)).resolve())
    bpy.ops.render.render(write_still=True)
    if not Path(scene.render.filepath).is_file():
        raise OSError(f"rendering produced no file at {scene.render.filepath}")
