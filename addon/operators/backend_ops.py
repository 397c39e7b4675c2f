"""Start and stop the backend process (bpy)."""
from __future__ import annotations

import bpy

from .. import runtime_state
from .common import backend_config, settings, user_errors


class REMOGEN_OT_backend_start(bpy.types.Operator):
    """Start the ReMoGen backend process (loads the models)"""

    bl_idname = "remogen.backend_start"
    bl_label = "Start Backend"

    def execute(self, context):
        s = settings(context)
        try:
            client = runtime_state.backend_client(backend_config(context))
        except user_errors() as exc:
            s.backend_state = "failed"
            self.report({"ERROR"}, f"ReMoGen backend: {exc}")
            return {"CANCELLED"}
        s.backend_state = "running"
        s.backend_device = str(client.server_info.get("device", ""))
        self.report({"INFO"}, f"ReMoGen backend running on {s.backend_device or 'unknown device'}")
        return {"FINISHED"}


class REMOGEN_OT_backend_stop(bpy.types.Operator):
    """Stop the ReMoGen backend process"""

    bl_idname = "remogen.backend_stop"
    bl_label = "Stop Backend"

    def execute(self, context):
        runtime_state.stop_backend()
        settings(context).backend_state = "stopped"
        settings(context).backend_device = ""
        return {"FINISHED"}
