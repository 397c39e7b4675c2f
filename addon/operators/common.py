"""Helpers shared by the operators (bpy)."""
from __future__ import annotations

import bpy

from .. import preferences


def settings(context):
    return context.scene.remogen


def user_errors():
    """Exception types that are the user's to fix: reported as one line, never a traceback."""
    from ..client import BackendDied, BackendError, BackendStartError
    from ..generate import GenerateError
    from ..rig.bake import BakeError
    from ..rig.bonemaps import BoneMapError
    from ..rig.keys import ReactionFormatError
    from ..rig.read_partner import PartnerError
    from ..rig.skeleton import RestSkeletonError

    return (BackendDied, BackendError, BackendStartError, GenerateError, BakeError, BoneMapError,
            ReactionFormatError, PartnerError, RestSkeletonError, OSError, ValueError)


def backend_config(context):
    return preferences.backend_config(context)


def rest_skeleton_path(context) -> str:
    from ..rig.skeleton import find_rest_skeleton

    config = backend_config(context)
    return str(find_rest_skeleton(None, config.model_dir or None, config.resolved_backend_dir() or None))


def tag_redraw(context):
    for window in getattr(context.window_manager, "windows", []):
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def is_interactive() -> bool:
    return not bpy.app.background
