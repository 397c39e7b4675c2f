"""Add-on preferences: where the backend comes from, and a button that sets its Python up (bpy).

The installed extension carries the backend (`backend/` beside this file, see packaging.py), so
the Backend Folder defaults to it; only an interpreter with torch is needed, which "Set Up
Backend Python" creates (a venv in the extension's user folder) without blocking Blender.
"""
from __future__ import annotations

from pathlib import Path

import bpy

BUNDLED_BACKEND = Path(__file__).resolve().parent / "backend"


def bundled_backend_dir() -> str:
    """The backend folder shipped inside this extension, or "" (a development checkout)."""
    return str(BUNDLED_BACKEND) if (BUNDLED_BACKEND / "inference_backend").is_dir() else ""


class RemogenPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    backend_python: bpy.props.StringProperty(
        name="Backend Python", subtype="FILE_PATH",
        description="Python interpreter with torch that runs the ReMoGen backend (Blender's own has no torch)")
    backend_dir: bpy.props.StringProperty(
        name="Backend Folder", subtype="DIR_PATH", default=bundled_backend_dir(),
        description="Folder containing the inference_backend package (added to the backend's PYTHONPATH); "
                    "defaults to the backend bundled with the extension")
    device: bpy.props.EnumProperty(
        name="Device", items=[("auto", "Auto", "CUDA when available, else CPU"), ("cpu", "CPU", ""), ("cuda", "CUDA", "")])
    model_dir: bpy.props.StringProperty(name="Model Folder", subtype="DIR_PATH",
                                        description="Weights folder (empty: the backend's shipped assets)")
    smplx_model: bpy.props.StringProperty(
        name="SMPL-X Model", subtype="FILE_PATH",
        description="Optional SMPLX_NEUTRAL.npz you downloaded yourself (exact joints and a skinned body)")
    setup_venv: bpy.props.StringProperty(
        name="Environment Folder", subtype="DIR_PATH",
        description="Where Set Up Backend Python creates the environment (empty: the extension's user folder)")
    setup_torch: bpy.props.EnumProperty(
        name="Torch Build", items=[("AUTO", "Auto", "CUDA when nvidia-smi lists a GPU, else CPU"),
                                   ("CPU", "CPU", ""), ("CUDA", "CUDA", "")])
    setup_status: bpy.props.StringProperty(name="Set-up Status", default="")

    def draw(self, context):
        layout = self.layout
        col = layout.column()
        for prop in ("backend_python", "backend_dir", "device", "model_dir", "smplx_model"):
            col.prop(self, prop)
        box = layout.box()
        box.label(text="Backend Python environment (torch)")
        row = box.row()
        row.prop(self, "setup_venv")
        row.prop(self, "setup_torch", text="")
        from .operators.setup_ops import setup_output, setup_running

        running = setup_running()
        row = box.row()
        row.enabled = not running
        row.operator("remogen.setup_backend", icon="CONSOLE")
        row.operator("remogen.setup_backend", text="Show Commands", icon="TEXT").dry_run = True
        if self.setup_status:
            box.label(text=self.setup_status)
        for line in setup_output(last=8):
            box.label(text=line[:160])


def get(context=None):
    """This add-on's preferences, or None when not registered as an add-on (tests, headless)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return getattr(addon, "preferences", None)


def backend_config(context=None):
    from .backend import BackendConfig

    prefs = get(context)
    if prefs is None:
        return BackendConfig(backend_dir=bundled_backend_dir())
    backend_dir = bpy.path.abspath(prefs.backend_dir) if prefs.backend_dir else bundled_backend_dir()
    return BackendConfig(python=bpy.path.abspath(prefs.backend_python) if prefs.backend_python else "",
                         backend_dir=backend_dir, device=prefs.device,
                         model_dir=bpy.path.abspath(prefs.model_dir) if prefs.model_dir else "")
