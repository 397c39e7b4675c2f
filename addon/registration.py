"""Registers the add-on's classes, per-scene settings, the `remogen` CLI command and the
file handler; stops the backend on unregister (bpy)."""
from __future__ import annotations

import bpy

from . import runtime_state
from .operators import CLASSES as OPERATORS
from .operators.voxel_ops import REMOGEN_FH_scene
from .panel import REMOGEN_PT_main
from .preferences import RemogenPreferences
from .properties import RemogenSettings

CLASSES = (RemogenPreferences, RemogenSettings, *OPERATORS, REMOGEN_PT_main, REMOGEN_FH_scene)
_cli_handle = None


def register():
    global _cli_handle
    from .cli import run_cli

    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.remogen = bpy.props.PointerProperty(type=RemogenSettings)
    _cli_handle = bpy.utils.register_cli_command("remogen", run_cli)


def unregister():
    global _cli_handle
    if _cli_handle is not None:
        bpy.utils.unregister_cli_command(_cli_handle)
        _cli_handle = None
    runtime_state.stop_backend()
    from .operators.setup_ops import cancel_setup, poll_setup

    cancel_setup()
    if bpy.app.timers.is_registered(poll_setup):
        bpy.app.timers.unregister(poll_setup)
    del bpy.types.Scene.remogen
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
