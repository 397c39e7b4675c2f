"""Shared fixtures: the data folder (skips with a clear message where it is absent)."""
from __future__ import annotations

import pytest

from inference_backend.paths import default_cache_dir, default_data_dir


@pytest.fixture(scope="session")
def data_dir():
    path = default_data_dir()
    if not (path / "cmu").is_dir():
        pytest.skip(f"the shared motion data folder is absent ({path}); set REMOGEN_DATA to run this test")
    return path


@pytest.fixture(scope="session")
def cache_dir():
    path = default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path
