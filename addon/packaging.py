"""What goes into the extension and where (stdlib only: used by build.py, headless and tests).

The repository keeps `blender_manifest.toml` at the top and the add-on code in `addon/`; the
extension is those files side by side (manifest beside `__init__.py`), plus the rest skeleton
as `data/rest_skeleton.json` when the data build has written it.
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTENSION_ID = "remogen"
REST_SKELETON = Path("assets") / "skeleton" / "rest_skeleton.json"
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


def extension_files(root: Path = ROOT) -> list[tuple[Path, str]]:
    """(source file, path inside the extension) for every shipped file."""
    root = Path(root)
    files = [(root / "blender_manifest.toml", "blender_manifest.toml")]
    addon = root / "addon"
    for path in sorted(addon.rglob("*")):
        rel = path.relative_to(addon)
        if path.is_dir() or _SKIP_DIRS & set(rel.parts) or path.suffix in _SKIP_SUFFIXES:
            continue
        files.append((path, rel.as_posix()))
    if (root / REST_SKELETON).is_file():
        files.append((root / REST_SKELETON, "data/rest_skeleton.json"))
    return files


def stage(dest: Path, root: Path = ROOT) -> Path:
    """Copy the extension into `dest/remogen` (replacing it); returns that folder."""
    target = Path(dest) / EXTENSION_ID
    if target.exists():
        shutil.rmtree(target)
    for src, arc in extension_files(root):
        out = target / arc
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)
    return target


def manifest_version(root: Path = ROOT) -> str:
    import tomllib

    return tomllib.loads((Path(root) / "blender_manifest.toml").read_text())["version"]


def build_zip(out_dir: Path, root: Path = ROOT) -> Path:
    """Write `remogen-<version>.zip` (installable with Blender's Install from Disk)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{EXTENSION_ID}-{manifest_version(root)}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for src, arc in extension_files(root):
            zf.write(src, arc)
    return path
