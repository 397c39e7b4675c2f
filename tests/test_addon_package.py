"""The extension package: manifest and zip pass Blender's own extension validator."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from addon import packaging

ROOT = Path(__file__).resolve().parents[1]


def _validator():
    try:
        import importlib.util

        spec = importlib.util.find_spec("bpy")
    except ImportError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the bpy module (which carries Blender's extension validator) is not installed")
    found = list(Path(spec.submodule_search_locations[0]).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        pytest.skip("Blender's blender_ext.py validator was not found in the bpy module")
    return found[0]


def test_zip_has_manifest_beside_init_and_no_bytecode(tmp_path):
    path = packaging.build_zip(tmp_path)
    assert path.name == f"remogen-{packaging.manifest_version()}.zip"
    names = zipfile.ZipFile(path).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names and "client.py" in names
    assert "rig/keys.py" in names and not any(n.endswith(".pyc") or "__pycache__" in n for n in names)
    assert not any(n.startswith("addon/") for n in names)


def test_blender_validates_manifest_and_zip(tmp_path):
    validator = _validator()
    staged = packaging.stage(tmp_path / "staged")
    for target in (staged, packaging.build_zip(tmp_path)):
        proc = subprocess.run([sys.executable, str(validator), "validate", str(target)], capture_output=True, text=True)
        assert proc.returncode == 0 and "Success" in proc.stdout, proc.stdout + proc.stderr
