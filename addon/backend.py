"""Which backend to start and how (no bpy): interpreter, import root, device, model folder.

The backend is `python -m inference_backend.server` run by an interpreter that has torch (the
one Blender ships does not), so the user points the add-on at it (preferences, `--backend-python`,
or $REMOGEN_BACKEND_PYTHON). The folder holding the `inference_backend` package goes on its
PYTHONPATH ($REMOGEN_BACKEND_DIR, the preferences, or `--backend-dir`).
"""
from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field

from .client import BackendProcess, Client

START_TIMEOUT_S = 180.0


@dataclass
class BackendConfig:
    python: str = ""  # interpreter with torch; "" = $REMOGEN_BACKEND_PYTHON or this interpreter
    backend_dir: str = ""  # folder containing the inference_backend package ("" = $REMOGEN_BACKEND_DIR)
    device: str = "auto"  # auto | cpu | cuda
    model_dir: str = ""  # weights folder ("" = the backend's shipped assets)
    extra_args: list[str] = field(default_factory=list)

    def resolved_python(self) -> str:
        return self.python or os.environ.get("REMOGEN_BACKEND_PYTHON") or sys.executable

    def resolved_backend_dir(self) -> str:
        return self.backend_dir or os.environ.get("REMOGEN_BACKEND_DIR", "")

    def server_args(self) -> list[str]:
        """Server arguments; $REMOGEN_BACKEND_ARGS (shell syntax) adds more, e.g. for a test runtime."""
        args = ["--device", self.device]
        if self.model_dir:
            args += ["--model-dir", self.model_dir]
        return args + list(self.extra_args) + shlex.split(os.environ.get("REMOGEN_BACKEND_ARGS", ""))

    def environment(self) -> dict:
        env = dict(os.environ)
        root = self.resolved_backend_dir()
        if root:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        return env


def start_backend(config: BackendConfig, timeout: float = START_TIMEOUT_S) -> tuple[BackendProcess, Client]:
    """Launch the backend process and connect; raises client.BackendStartError / BackendDied."""
    root = config.resolved_backend_dir() or None
    process = BackendProcess.launch(config.resolved_python(), config.server_args(), env=config.environment(),
                                    timeout=timeout, cwd=root)
    try:
        return process, process.connect()
    except Exception:
        process.kill()
        raise
