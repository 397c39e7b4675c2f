"""Per-scene settings shown in the ReMoGen panel (bpy)."""
from __future__ import annotations

import bpy

from .rig.bonemaps import PRESETS


def _armature(self, obj):
    return obj.type == "ARMATURE"


def _mesh(self, obj):
    return obj.type == "MESH"


_MAP_ITEMS = [("AUTO", "Auto-detect", "Detect the bone naming")] + [(p.name, p.label, "") for p in PRESETS.values()]


class RemogenSettings(bpy.types.PropertyGroup):
    partner: bpy.props.PointerProperty(name="Partner", type=bpy.types.Object, poll=_armature,
                                       description="The animated character the reaction responds to")
    partner_map: bpy.props.EnumProperty(name="Partner Bones", items=_MAP_ITEMS)
    scene_mesh: bpy.props.PointerProperty(name="Scene", type=bpy.types.Object, poll=_mesh,
                                          description="Room or props the reaction must respect")
    intent: bpy.props.StringProperty(name="Intent", default="shakes hands with the partner")
    weight_hhi: bpy.props.FloatProperty(name="Partner (HHI)", default=1.0, min=0.0, max=2.0)
    weight_hsi: bpy.props.FloatProperty(name="Scene (HSI)", default=1.0, min=0.0, max=2.0)
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)
    use_scene_range: bpy.props.BoolProperty(name="Scene Frame Range", default=True)
    frame_start: bpy.props.IntProperty(name="Start", default=1)
    frame_end: bpy.props.IntProperty(name="End", default=250)
    target_mode: bpy.props.EnumProperty(name="Target", items=[
        ("CREATE", "New SMPL-X Rig", "Create an SMPL-X armature for the reaction"),
        ("EXISTING", "Existing Armature", "Bake onto an existing rig through a bone map")])
    target: bpy.props.PointerProperty(name="Armature", type=bpy.types.Object, poll=_armature)
    target_map: bpy.props.EnumProperty(name="Target Bones", items=_MAP_ITEMS)
    voxel_size: bpy.props.FloatProperty(name="Voxel Size", default=0.1, min=0.01, max=1.0, unit="LENGTH")
    record: bpy.props.BoolProperty(name="Record", description="Key live-preview frames into the action")
    latency_ms: bpy.props.FloatProperty(name="Latency (ms)", default=0.0)
    backend_state: bpy.props.StringProperty(name="Backend", default="stopped")
    backend_device: bpy.props.StringProperty(name="Device", default="")
    progress: bpy.props.FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")

    def frame_range(self, scene) -> tuple[int, int]:
        if self.use_scene_range:
            return scene.frame_start, scene.frame_end
        return self.frame_start, self.frame_end

    def weights(self) -> dict:
        return {"hhi": self.weight_hhi, "hsi": self.weight_hsi}
