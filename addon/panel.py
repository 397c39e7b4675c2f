"""The 'ReMoGen' tab in the 3D viewport sidebar (bpy)."""
from __future__ import annotations

import bpy

from .operators.preview_op import is_running


class REMOGEN_PT_main(bpy.types.Panel):
    bl_label = "ReMoGen"
    bl_idname = "REMOGEN_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "ReMoGen"

    def draw(self, context):
        s = context.scene.remogen
        layout = self.layout
        col = layout.column(align=True)
        col.prop(s, "partner")
        col.prop(s, "partner_map")
        row = layout.row(align=True)
        row.prop(s, "scene_mesh")
        row.operator("remogen.voxelize", text="", icon="MESH_GRID")
        layout.prop(s, "intent", text="")
        col = layout.column(align=True)
        col.label(text="Module Weights")
        col.prop(s, "weight_hhi", slider=True)
        col.prop(s, "weight_hsi", slider=True)
        layout.prop(s, "seed")
        col = layout.column(align=True)
        col.prop(s, "use_scene_range")
        if not s.use_scene_range:
            row = col.row(align=True)
            row.prop(s, "frame_start")
            row.prop(s, "frame_end")
        layout.prop(s, "target_mode", expand=True)
        if s.target_mode == "EXISTING":
            layout.prop(s, "target")
            layout.prop(s, "target_map")
        else:
            layout.operator("remogen.create_rig", icon="ARMATURE_DATA")
        layout.operator("remogen.generate", icon="PLAY")
        if 0.0 < s.progress < 1.0:
            layout.progress(factor=s.progress, text=f"Generating {int(100 * s.progress)}% (Esc cancels)")
        row = layout.row(align=True)
        running = is_running()
        row.operator("remogen.live_preview", text="Stop Preview" if running else "Live Preview",
                     icon="PAUSE" if running else "REC", depress=running)
        row.prop(s, "record", toggle=True, icon="RECORD_OFF")
        if s.latency_ms:
            layout.label(text=f"Latency {s.latency_ms:.0f} ms/frame")
        layout.operator("remogen.bake_to_rig", icon="ACTION")
        box = layout.box()
        row = box.row()
        row.label(text=f"Backend: {s.backend_state}" + (f" ({s.backend_device})" if s.backend_device else ""))
        row.operator("remogen.backend_start", text="", icon="PLAY")
        row.operator("remogen.backend_stop", text="", icon="X")
