"""Blender (the bpy module) for tests: private user folders, the extension enabled as users get
it (`bl_ext.remogen_dev.remogen`), and a reset to an empty file between tests.

bpy can be imported once per process: every test module shares it; tests needing a fresh state
call `reset()`; renders run in a subprocess.
"""
from __future__ import annotations

import importlib.util

import pytest

HAVE_BPY = importlib.util.find_spec("bpy") is not None
needs_bpy = pytest.mark.skipif(not HAVE_BPY, reason="the bpy module (Blender as a Python module) is not installed")


def bpy_and_extension():
    """(bpy, the enabled extension module)."""
    from addon import headless

    bpy = headless.import_bpy()
    return bpy, headless.enable_extension()


def ext_module(name: str):
    """A submodule of the enabled extension, e.g. ext_module("rig.create_rig")."""
    import importlib

    from addon.headless import PACKAGE

    return importlib.import_module(f"{PACKAGE}.{name}")


def reset():
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
