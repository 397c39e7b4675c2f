"""The backend this Blender session talks to, and background jobs (no bpy).

One backend process per Blender session, started on demand; its blocking calls run on worker
threads (`Job`) so the UI stays live; operators poll jobs from modal timers and apply results
on the main thread (bpy is not thread-safe).
"""
from __future__ import annotations

import threading

from .backend import BackendConfig, start_backend

_lock = threading.Lock()
_backend: dict = {"process": None, "client": None}


def backend_client(config: BackendConfig):
    """The running backend's client, starting the backend if needed (blocking)."""
    with _lock:
        client, process = _backend["client"], _backend["process"]
        if client is not None and process is not None and process.alive:
            return client
        if process is not None:
            process.kill()
        process, client = start_backend(config)
        _backend.update(process=process, client=client)
        return client


def backend_running() -> bool:
    process = _backend["process"]
    return process is not None and process.alive


def stop_backend() -> None:
    with _lock:
        client, process = _backend["client"], _backend["process"]
        _backend.update(process=None, client=None)
    if client is not None:
        try:
            client.shutdown()
        except Exception:  # already gone: stopping is all that was asked
            pass
        client.close()
    if process is not None:
        process.stop()


class Job:
    """Run `fn(job)` on a worker thread; `done`, `result`, `error`, `progress` for the poller."""

    def __init__(self, fn):
        self.fn = fn
        self.result = None
        self.error: BaseException | None = None
        self.progress = 0.0
        self.cancelled = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Job":
        self._thread.start()
        return self

    def _run(self):
        try:
            self.result = self.fn(self)
        except BaseException as exc:  # handed to the main thread, reported there
            self.error = exc

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout=None):
        self._thread.join(timeout)
