"""The add-on's operators (bpy); `CLASSES` in registration order."""
from .backend_ops import REMOGEN_OT_backend_start, REMOGEN_OT_backend_stop
from .generate_op import REMOGEN_OT_generate
from .preview_op import REMOGEN_OT_live_preview
from .setup_ops import REMOGEN_OT_setup_backend
from .rig_ops import REMOGEN_OT_bake_to_rig, REMOGEN_OT_create_rig
from .voxel_ops import REMOGEN_OT_import_scene, REMOGEN_OT_voxelize

CLASSES = (
    REMOGEN_OT_backend_start, REMOGEN_OT_backend_stop, REMOGEN_OT_generate, REMOGEN_OT_live_preview,
    REMOGEN_OT_create_rig, REMOGEN_OT_bake_to_rig, REMOGEN_OT_voxelize, REMOGEN_OT_import_scene,
    REMOGEN_OT_setup_backend,
)
