"""What goes into the extension and where (stdlib only: used by build.py, headless and tests).

The repository keeps `blender_manifest.toml` at the top and the add-on code in `addon/`; the
extension is those files side by side (manifest beside `__init__.py`), plus the rest skeleton
as `data/rest_skeleton.json`. The zip users install also carries the backend, laid out as a
small checkout of this repository so the backend's own path logic works unchanged:

    backend/inference_backend/...   the package (`python -m inference_backend.server`)
    backend/addon/wire.py           the wire format, which the server loads by file path
    backend/assets/prior|modules|skeleton   the shipped weights (what the runtime loads)

The add-on's preferences default the backend folder to that `backend/` folder; the backend
still needs an interpreter with torch (`python3 build.py backend`, or the preferences button).
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTENSION_ID = "remogen"
REST_SKELETON = Path("assets") / "skeleton" / "rest_skeleton.json"
BACKEND_FOLDER = "backend"  # inside the extension
BACKEND_ASSETS = ("prior", "modules", "skeleton")  # assets/ folders the runtime reads
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


def _tree(folder: Path, arc_prefix: str) -> list[tuple[Path, str]]:
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_dir() or _SKIP_DIRS & set(rel.parts) or path.suffix in _SKIP_SUFFIXES:
            continue
        out.append((path, f"{arc_prefix}{rel.as_posix()}"))
    return out


def backend_files(root: Path = ROOT) -> list[tuple[Path, str]]:
    """(source file, path inside the extension) for the bundled backend and its weights."""
    root = Path(root)
    prefix = BACKEND_FOLDER + "/"
    files = _tree(root / "inference_backend", prefix + "inference_backend/")
    files.append((root / "addon" / "wire.py", prefix + "addon/wire.py"))
    for name in BACKEND_ASSETS:
        if (root / "assets" / name).is_dir():
            files += _tree(root / "assets" / name, f"{prefix}assets/{name}/")
    return files


def extension_files(root: Path = ROOT, with_backend: bool = False) -> list[tuple[Path, str]]:
    """(source file, path inside the extension) for every shipped file."""
    root = Path(root)
    files = [(root / "blender_manifest.toml", "blender_manifest.toml")]
    files += _tree(root / "addon", "")
    if (root / REST_SKELETON).is_file():
        files.append((root / REST_SKELETON, "data/rest_skeleton.json"))
    if with_backend:
        files += backend_files(root)
    return files


def stage(dest: Path, root: Path = ROOT, with_backend: bool = False) -> Path:
    """Copy the extension into `dest/remogen` (replacing it); returns that folder.

    Development staging (headless runs, tests) leaves the backend out by default: it runs from
    the checkout there."""
    target = Path(dest) / EXTENSION_ID
    if target.exists():
        shutil.rmtree(target)
    for src, arc in extension_files(root, with_backend):
        out = target / arc
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)
    return target


def manifest_version(root: Path = ROOT) -> str:
    import tomllib

    return tomllib.loads((Path(root) / "blender_manifest.toml").read_text())["version"]


def build_zip(out_dir: Path, root: Path = ROOT, with_backend: bool = True) -> Path:
    """Write `remogen-<version>.zip` (installable with Blender's Install from Disk)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{EXTENSION_ID}-{manifest_version(root)}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for src, arc in extension_files(root, with_backend):
            zf.write(src, arc)
    return path


def find_validator(python: str | None = None) -> Path | None:
    """Blender's own extension tool (`blender_ext.py`, stdlib only) from an installed bpy module,
    or None. `python` is an interpreter whose site-packages hold bpy (default: this one)."""
    import subprocess
    import sys

    code = ("import importlib.util as u; s = u.find_spec('bpy'); "
            "print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')")
    try:
        out = subprocess.run([python or sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    folder = out.stdout.strip()
    if not folder:
        return None
    found = sorted(Path(folder).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    return found[-1] if found else None


def validate(path: Path, validator: Path, python: str | None = None) -> tuple[bool, str]:
    """Run Blender's `blender_ext.py validate` on a zip or folder: (ok, its output)."""
    import subprocess
    import sys

    proc = subprocess.run([python or sys.executable, str(validator), "validate", str(path)],
                          capture_output=True, text=True, timeout=120)
    text = (proc.stdout + proc.stderr).strip()
    return proc.returncode == 0 and "Success" in proc.stdout, text
