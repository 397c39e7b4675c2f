"""The add-on's backend client: launching, failure reporting, dead-server detection, restart.

The server runs as a real process with the deterministic echo session (tests/echo_runtime.py).
"""
from __future__ import annotations

import ast
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

from addon import client as client_module
from addon.client import BackendDied, BackendProcess, BackendStartError
from inference_backend.paths import REPO_ROOT
from tests.server_helpers import launch


def test_client_module_needs_only_stdlib_and_numpy():
    """It runs inside Blender's Python: no torch, no bpy, no backend package."""
    allowed = {"numpy", "collections", "itertools", "json", "os", "queue", "secrets", "socket", "subprocess",
               "threading", "time", "__future__", "struct", "math", "dataclasses"}
    for name in ("client.py", "wire.py"):
        tree = ast.parse((REPO_ROOT / "addon" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = set() if node.level else {node.module.split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"addon/{name} imports {roots - allowed}"


def test_launch_failure_reports_the_servers_stderr():
    with pytest.raises(BackendStartError) as info:
        BackendProcess.launch(sys.executable, ["--host", "192.0.2.1"], cwd=str(REPO_ROOT), timeout=60)
    assert "exited with code 2" in str(info.value) and "--allow-remote" in str(info.value)


def test_launch_with_a_missing_interpreter_is_a_clear_error():
    with pytest.raises(BackendStartError, match="cannot start the backend"):
        BackendProcess.launch("/nonexistent/python3", cwd=str(REPO_ROOT))


def test_launch_times_out_without_a_ready_line(tmp_path):
    script = tmp_path / "silent.py"
    script.write_text("import sys, time\nprint('loading weights...', file=sys.stderr, flush=True)\ntime.sleep(60)\n")
    process = BackendProcess([sys.executable, str(script)], os.environ, None, timeout=1.5)
    start = time.monotonic()
    with pytest.raises(BackendStartError, match="no ready line within 2 s") as info:
        process.start()
    assert time.monotonic() - start < 5 and "loading weights..." in str(info.value)
    assert not process.alive


@pytest.fixture(scope="module")
def backend():
    process = launch()
    yield process
    process.stop()


def _kill(process: BackendProcess) -> None:
    os.kill(process.proc.pid, signal.SIGKILL)


def test_killed_server_raises_backend_died_within_a_second_and_restart_works(backend):
    client = backend.connect()
    sid = client.open_session("wave")
    client.step(sid, np.zeros((22, 3)))
    _kill(backend)
    start = time.monotonic()
    with pytest.raises(BackendDied, match="backend"):
        client.step(sid, np.zeros((22, 3)))
    assert time.monotonic() - start < 1.0
    with pytest.raises(BackendDied):  # and stays dead
        client.hello()
    backend.restart()
    with backend.connect() as client:
        sid = client.open_session("wave")
        assert client.step(sid, np.zeros((22, 3)))["joints"].shape == (22, 3)


def test_server_killed_during_generate_unblocks_the_caller_within_a_second(backend):
    client = backend.connect()
    sid = client.open_session("slow")
    progressed = threading.Event()
    threading.Timer(10, progressed.set).start()  # never wait forever
    errors = []

    def run():
        try:
            client.generate(sid, np.zeros((3000, 22, 3)), on_progress=lambda d, t: progressed.set())
        except Exception as exc:
            errors.append((exc, time.monotonic()))

    thread = threading.Thread(target=run)
    thread.start()
    progressed.wait()
    killed = time.monotonic()
    _kill(backend)
    thread.join(5)
    assert errors and isinstance(errors[0][0], BackendDied)
    assert errors[0][1] - killed < 1.0
    backend.restart()


def test_stop_shuts_the_server_down_cleanly(backend):
    assert backend.alive
    assert backend.stop() == 0
    assert not backend.alive
    with pytest.raises(BackendDied):
        backend.connect()
    backend.restart()


def test_error_types_and_classes(backend):
    with backend.connect() as client:
        with pytest.raises(client_module.BackendError) as info:
            client.step("nope", np.zeros((22, 3)))
        assert info.value.type == "not_found" and "open_session again" in info.value.message
        assert not isinstance(info.value, client_module.Cancelled)
