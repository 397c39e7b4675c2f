"""The extension zip as users get it: built by `build.py extension`, validated by Blender's own
validator, installed with Blender's "Install from Disk" operator into private user folders,
enabled, and working with nothing but bpy + numpy in Blender's Python; its bundled backend
runs from the installed folder (wire format found there, weights folder there)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from addon import packaging
from tests.blender_env import HAVE_BPY

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not HAVE_BPY, reason="the bpy module (Blender as a Python module) is not installed")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(ROOT / "build.py"), "extension", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout  # Blender's validator ran and accepted it
    return out / f"remogen-{packaging.manifest_version()}.zip"


def test_zip_carries_addon_backend_wire_and_assets(built):
    names = set(zipfile.ZipFile(built).namelist())
    assert {"blender_manifest.toml", "__init__.py", "wire.py", "data/rest_skeleton.json"} <= names
    assert {"backend/inference_backend/server/__main__.py", "backend/inference_backend/runtime/session.py",
            "backend/addon/wire.py", "backend/assets/skeleton/rest_skeleton.json"} <= names
    assert not any(n.startswith("backend/assets/sample") or "__pycache__" in n or n.endswith(".pyc") for n in names)
    for folder in packaging.BACKEND_ASSETS:  # every shipped weights file there is goes in
        for path in (ROOT / "assets" / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert f"backend/assets/{folder}/{path.relative_to(ROOT / 'assets' / folder).as_posix()}" in names


def test_install_enable_and_run_without_torch_in_blender(built, tmp_path):
    user = tmp_path / "user"
    env = dict(os.environ, REMOGEN_BACKEND_PYTHON=sys.executable, PYTHONPATH=str(ROOT),
               REMOGEN_BACKEND_ARGS="--session-factory tests.echo_runtime:load --device cpu")
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "addon_install_check.py"), str(built), str(user)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    installed = user / "extensions" / "user_default" / "remogen"
    assert out["install"] == ["FINISHED"] and out["enabled"]
    assert Path(out["ext_dir"]) == installed
    assert Path(out["backend_dir"]) == installed / "backend"  # the preference defaults to the bundled backend
    assert {"generate", "live_preview", "setup_backend", "create_rig", "backend_start"} <= set(out["operators"])
    assert out["create_rig"] == ["FINISHED"] and out["rig_bones"] == 55
    assert out["backend_start"] == ["FINISHED"] and out["backend_device"] == "cpu"
    assert out["setup_dry_run"] == ["FINISHED"]
    assert any(line.startswith("would run: ") and "torch==" in line for line in out["setup_output"])
    assert out["setup_status"].startswith("Dry run")
    assert out["blocked_loaded"] == []  # the add-on imported no torch, scipy or backend code

    # The bundled backend, run from the installed folder only, finds its wire format and weights there.
    probe = ("import inference_backend, inference_backend.server.protocol as p, inference_backend.paths as q; "
             "print(inference_backend.__file__); print(p._WIRE_PATH); print(q.ASSETS_DIR)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=installed / "backend",
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    pkg, wire, assets = [Path(line) for line in res.stdout.split()]
    assert pkg == installed / "backend" / "inference_backend" / "__init__.py"
    assert wire == installed / "backend" / "addon" / "wire.py" and wire.is_file()
    assert assets == installed / "backend" / "assets"
