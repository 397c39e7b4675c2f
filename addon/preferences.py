"""Add-on preferences: where the backend comes from (bpy)."""
from __future__ import annotations

import bpy


class RemogenPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    backend_python: bpy.props.StringProperty(
        name="Backend Python", subtype="FILE_PATH",
        description="Python interpreter with torch that runs the ReMoGen backend (Blender's own has no torch)")
    backend_dir: bpy.props.StringProperty(
        name="Backend Folder", subtype="DIR_PATH",
        description="Folder containing the inference_backend package (added to the backend's PYTHONPATH)")
    device: bpy.props.EnumProperty(
        name="Device", items=[("auto", "Auto", "CUDA when available, else CPU"), ("cpu", "CPU", ""), ("cuda", "CUDA", "")])
    model_dir: bpy.props.StringProperty(name="Model Folder", subtype="DIR_PATH",
                                        description="Weights folder (empty: the backend's shipped assets)")
    smplx_model: bpy.props.StringProperty(
        name="SMPL-X Model", subtype="FILE_PATH",
        description="Optional SMPLX_NEUTRAL.npz you downloaded yourself (exact joints and a skinned body)")

    def draw(self, context):
        col = self.layout.column()
        for prop in ("backend_python", "backend_dir", "device", "model_dir", "smplx_model"):
            col.prop(self, prop)


def get(context=None):
    """This add-on's preferences, or None when not registered as an add-on (tests, headless)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return getattr(addon, "preferences", None)


def backend_config(context=None):
    from .backend import BackendConfig

    prefs = get(context)
    if prefs is None:
        return BackendConfig()
    return BackendConfig(python=bpy.path.abspath(prefs.backend_python) if prefs.backend_python else "",
                         backend_dir=bpy.path.abspath(prefs.backend_dir) if prefs.backend_dir else "",
                         device=prefs.device, model_dir=bpy.path.abspath(prefs.model_dir) if prefs.model_dir else "")
