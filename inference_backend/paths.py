"""Where things live: the data folder (input, read-only), the cache (built), the assets (shipped)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = REPO_ROOT / "assets"


def default_data_dir() -> Path:
    """`$REMOGEN_DATA`, else `../shared/data` beside the repository (our machines and CI)."""
    return Path(os.environ.get("REMOGEN_DATA", REPO_ROOT.parent / "shared" / "data"))


def default_cache_dir() -> Path:
    """`$REMOGEN_CACHE`, else `.cache/` in the repository (gitignored)."""
    return Path(os.environ.get("REMOGEN_CACHE", REPO_ROOT / ".cache"))
