"""Voxelize the scene mesh through the backend and show the occupied voxels; import a dropped
scene file (the FileHandler's operator) (bpy)."""
from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from .. import runtime_state
from ..scene_io import mesh_world_triangles
from ..voxels import cube_mesh, voxel_centres
from .common import backend_config, settings, user_errors

OVERLAY_NAME = "ReMoGen Voxels"
MAX_CUBES = 200_000  # beyond this the overlay shows points (one vertex per voxel)


def show_voxels(context, grid, origin, voxel_size):
    """(Re)build the overlay object: a cube per occupied cell (or points for huge grids)."""
    centres = voxel_centres(grid, origin, voxel_size)
    old = bpy.data.objects.get(OVERLAY_NAME)
    if old is not None:
        mesh = old.data
        bpy.data.objects.remove(old)
        if mesh.users == 0:
            bpy.data.meshes.remove(mesh)
    mesh = bpy.data.meshes.new(OVERLAY_NAME)
    if len(centres) <= MAX_CUBES:
        verts, faces = cube_mesh(centres, voxel_size)
        mesh.vertices.add(len(verts))
        mesh.vertices.foreach_set("co", verts.ravel())
        mesh.loops.add(faces.size)
        mesh.loops.foreach_set("vertex_index", faces.ravel())
        mesh.polygons.add(len(faces))
        mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 4, dtype=np.int32))
        mesh.polygons.foreach_set("loop_total", np.full(len(faces), 4, dtype=np.int32))
    else:
        mesh.vertices.add(len(centres))
        mesh.vertices.foreach_set("co", centres.ravel())
    mesh.update()
    obj = bpy.data.objects.new(OVERLAY_NAME, mesh)
    context.scene.collection.objects.link(obj)
    obj.color = (0.2, 0.6, 1.0, 0.5)
    obj.hide_select = True
    obj.hide_render = True
    obj["remogen_voxels"] = int(len(centres))
    return obj


class REMOGEN_OT_voxelize(bpy.types.Operator):
    """Voxelize the scene mesh with the backend and show the occupied voxels"""

    bl_idname = "remogen.voxelize"
    bl_label = "Voxelize Scene"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        s = settings(context)
        if s.scene_mesh is None:
            self.report({"ERROR"}, "ReMoGen: choose the scene mesh first")
            return {"CANCELLED"}
        try:
            verts, faces = mesh_world_triangles(s.scene_mesh, context.evaluated_depsgraph_get())
            if len(faces) == 0:
                raise ValueError(f"scene mesh {s.scene_mesh.name!r} has no faces")
            client = runtime_state.backend_client(backend_config(context))
            grid, origin, size = client.voxelize(verts, faces, s.voxel_size)
        except user_errors() as exc:
            self.report({"ERROR"}, f"ReMoGen: {exc}")
            return {"CANCELLED"}
        obj = show_voxels(context, grid, origin, size)
        self.report({"INFO"}, f"ReMoGen: {obj['remogen_voxels']} occupied voxels of {size:g} m")
        return {"FINISHED"}


def _import(filepath: str):
    ext = Path(filepath).suffix.lower()
    ops = {
        ".obj": lambda: bpy.ops.wm.obj_import(filepath=filepath),
        ".ply": lambda: bpy.ops.wm.ply_import(filepath=filepath),
        ".stl": lambda: bpy.ops.wm.stl_import(filepath=filepath),
        ".glb": lambda: bpy.ops.import_scene.gltf(filepath=filepath),
        ".gltf": lambda: bpy.ops.import_scene.gltf(filepath=filepath),
        ".fbx": lambda: bpy.ops.import_scene.fbx(filepath=filepath),
    }
    if ext not in ops:
        raise ValueError(f"{filepath}: unsupported scene file type {ext!r} (use {', '.join(ops)})")
    if not Path(filepath).is_file():
        raise FileNotFoundError(f"scene file not found: {filepath}")
    return ops[ext]()


class REMOGEN_OT_import_scene(bpy.types.Operator):
    """Import a room or props as the ReMoGen scene and show its voxels"""

    bl_idname = "remogen.import_scene"
    bl_label = "Import ReMoGen Scene"
    bl_options = {"REGISTER", "UNDO"}

    filepath: bpy.props.StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    directory: bpy.props.StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE"})
    files: bpy.props.CollectionProperty(type=bpy.types.OperatorFileListElement, options={"SKIP_SAVE"})
    voxelize: bpy.props.BoolProperty(name="Voxelize", default=True)

    def _paths(self):
        if self.files and self.directory:
            return [str(Path(self.directory) / f.name) for f in self.files if f.name]
        return [self.filepath] if self.filepath else []

    def execute(self, context):
        paths = self._paths()
        if not paths:
            self.report({"ERROR"}, "ReMoGen: no scene file given")
            return {"CANCELLED"}
        before = set(bpy.data.objects)
        try:
            for path in paths:
                _import(path)
        except (ValueError, OSError, RuntimeError) as exc:
            self.report({"ERROR"}, f"ReMoGen: cannot import the scene: {exc}")
            return {"CANCELLED"}
        meshes = [o for o in bpy.data.objects if o not in before and o.type == "MESH"]
        if not meshes:
            self.report({"ERROR"}, "ReMoGen: the file has no mesh to use as the scene")
            return {"CANCELLED"}
        scene_obj = meshes[0]
        if len(meshes) > 1:  # one scene object: join the imported meshes
            with context.temp_override(active_object=scene_obj, selected_editable_objects=meshes,
                                       selected_objects=meshes):
                bpy.ops.object.join()
        settings(context).scene_mesh = scene_obj
        if self.voxelize:
            result = bpy.ops.remogen.voxelize()
            if "FINISHED" not in result:
                self.report({"WARNING"}, "ReMoGen: scene imported; voxelizing failed (see the report above)")
        return {"FINISHED"}

    def invoke(self, context, event):
        if self.filepath or self.files:
            return self.execute(context)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}


class REMOGEN_FH_scene(bpy.types.FileHandler):
    """Drop a room or prop file on the 3D viewport to use it as the ReMoGen scene."""

    bl_idname = "REMOGEN_FH_scene"
    bl_label = "ReMoGen scene"
    bl_import_operator = "remogen.import_scene"
    bl_file_extensions = ".obj;.ply;.stl;.glb;.gltf;.fbx"

    @classmethod
    def poll_drop(cls, context):
        return context.area is not None and context.area.type == "VIEW_3D"
