"""The backend set-up running in a subprocess, watched from Blender without blocking (no bpy).

The preferences button starts `backend_setup.py` (this folder) with Blender's Python; a reader
thread collects its output lines; a timer in the UI (or a test) calls `poll()` and shows them.
"""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from .backend_setup import RESULT_PREFIX

SCRIPT = Path(__file__).resolve().parent / "backend_setup.py"


class SetupProcess:
    def __init__(self, args: list[str], python: str | None = None):
        self.command = [python or sys.executable, str(SCRIPT), *args]
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     bufsize=1, stdin=subprocess.DEVNULL)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))
        self.proc.wait()

    @property
    def done(self) -> bool:
        return not self._reader.is_alive()

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.done else None

    def output(self, last: int | None = None) -> list[str]:
        with self._lock:
            return list(self.lines[-last:] if last else self.lines)

    def result_python(self) -> str:
        """The interpreter the set-up reported (empty until it succeeded)."""
        for line in reversed(self.output()):
            if line.startswith(RESULT_PREFIX):
                return line[len(RESULT_PREFIX):].strip()
        return ""

    def wait(self, timeout: float | None = None) -> int | None:
        self._reader.join(timeout)
        return self.returncode

    def cancel(self):
        if self.proc.poll() is None:
            self.proc.terminate()
