"""Run the add-on's CLI under the `bpy` module (Blender as a Python module), as users' Blender
runs it with `blender -b shot.blend -c remogen ...`:

    python -m addon.headless shot.blend generate --partner P --intent "..." --out out.blend

The extension is enabled the way Blender enables it for users: staged into a local extension
repository, so its package is `bl_ext.<repo>.remogen`. Blender's user folders point at a
temporary directory unless BLENDER_USER_RESOURCES is set, so nothing of the user's own Blender
configuration is read or changed.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO_MODULE = "remogen_dev"
PACKAGE = f"bl_ext.{REPO_MODULE}.remogen"
_state: dict = {}


def _tempdir() -> Path:
    if "tmp" not in _state:
        path = Path(tempfile.mkdtemp(prefix="remogen-blender-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _state["tmp"] = path
    return _state["tmp"]


def import_bpy():
    """Import bpy with private user folders (set before the first import, as bpy reads them once)."""
    if "bpy" not in sys.modules:
        tmp = _tempdir()
        os.environ.setdefault("BLENDER_USER_RESOURCES", str(tmp / "user"))
        os.environ.setdefault("XDG_CACHE_HOME", str(tmp / "cache"))
    import bpy

    return bpy


def enable_extension(root: Path | None = None):
    """Stage the extension from the source tree `root` and enable it; returns its module."""
    bpy = import_bpy()
    import addon_utils

    from .packaging import ROOT, stage

    if PACKAGE in sys.modules and _state.get("enabled"):
        return sys.modules[PACKAGE]
    repo_dir = _tempdir() / "extensions"
    stage(repo_dir, Path(root) if root else ROOT)
    repos = bpy.context.preferences.extensions.repos
    if not any(r.module == REPO_MODULE for r in repos):
        repos.new(name=REPO_MODULE, module=REPO_MODULE, custom_directory=str(repo_dir), source="USER")
    module = addon_utils.enable(PACKAGE, default_set=True, handle_error=_raise)
    if module is None:
        raise RuntimeError(f"could not enable the extension {PACKAGE}")
    _state["enabled"] = True
    return module


def _raise(exc):
    raise exc


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    bpy = import_bpy()
    if argv and argv[0].endswith(".blend"):
        blend = argv.pop(0)
        if not Path(blend).is_file():
            print(f"remogen: error: blend file not found: {blend}", file=sys.stderr)
            return 2
        bpy.ops.wm.open_mainfile(filepath=blend)
    enable_extension()
    import importlib

    return importlib.import_module(PACKAGE + ".cli").run_cli(argv)


if __name__ == "__main__":
    sys.exit(main())
