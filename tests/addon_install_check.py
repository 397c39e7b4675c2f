"""Run by tests/test_addon_install.py in a fresh interpreter: install the built extension zip into
private Blender user folders with Blender's own "Install from Disk" operator, enable it, and
check it registers and works with nothing but bpy + numpy (torch, scipy, the backend package and
this repository are made unimportable). Prints one JSON line."""
import importlib.abc
import json
import os
import sys
import tempfile

BLOCKED = {"torch", "scipy", "trimesh", "safetensors", "sentence_transformers", "smplx", "inference_backend",
           "tests", "addon"}


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed in Blender's Python")
        return None


def main(zip_path, user_dir):
    sys.meta_path.insert(0, Blocker())
    os.environ["BLENDER_USER_RESOURCES"] = user_dir
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp()
    import bpy

    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    package = "bl_ext.user_default.remogen"
    addon = bpy.context.preferences.addons.get(package)
    out = {"install": sorted(result), "enabled": addon is not None}
    if addon is not None:
        prefs = addon.preferences
        out["backend_dir"] = prefs.backend_dir
        out["ext_dir"] = os.path.dirname(sys.modules[package].__file__)
        out["operators"] = sorted(op for op in dir(bpy.ops.remogen) if not op.startswith("_"))
        bpy.ops.wm.read_homefile(use_empty=True)
        out["create_rig"] = sorted(bpy.ops.remogen.create_rig())
        rig = bpy.data.objects.get("SMPL-X Rig")
        out["rig_bones"] = len(rig.data.bones) if rig else 0
        out["backend_start"] = sorted(bpy.ops.remogen.backend_start())
        out["backend_device"] = bpy.context.scene.remogen.backend_device
        bpy.ops.remogen.backend_stop()
        out["setup_dry_run"] = sorted(bpy.ops.remogen.setup_backend(dry_run=True))
        setup_ops = sys.modules[package + ".operators.setup_ops"]
        setup_ops._state["process"].wait(120)
        setup_ops.poll_setup()
        out["setup_output"] = setup_ops.setup_output()
        out["setup_status"] = prefs.setup_status
    out["blocked_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
