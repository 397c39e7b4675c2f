"""Session factory for the add-on's end-to-end tests: the trained model when its weights are
shipped (`assets/prior/config.json`), else a tiny random prior (tests/tiny_prior.py) with the
fake text encoder, behind the real runtime and a real backend process. Started with
``--session-factory tests.addon_runtime:load``."""
from __future__ import annotations

from pathlib import Path

from inference_backend.paths import ASSETS_DIR, default_cache_dir

REAL_WEIGHTS = (ASSETS_DIR / "prior" / "config.json").is_file()
BACKEND_ARGS = ["--session-factory", "tests.addon_runtime:load"]


def load(model_dir, device):
    from inference_backend.server.sessions import RuntimeFactory, load_runtime_factory

    if REAL_WEIGHTS:
        return load_runtime_factory(ASSETS_DIR, device)
    from inference_backend.runtime import session as runtime_session
    from tests.tiny_prior import tiny_runtime

    runtime = tiny_runtime(Path(default_cache_dir()) / "addon-tests-tiny-model")
    return RuntimeFactory(runtime_session, runtime, device)
