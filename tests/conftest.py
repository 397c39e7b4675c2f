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


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on a shared machine: one intra-op thread is many times faster (no spinning)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
