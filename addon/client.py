"""Start the ReMoGen backend process and talk to it (stdlib + numpy: runs in Blender's Python).

``BackendProcess.launch`` starts ``python -m inference_backend.server`` with the interpreter the
user configured, hands it a fresh random token through the environment, and waits for its ready
line. ``Client`` speaks the wire protocol (``wire.py``) over a socket. Server-side failures
arrive as ``BackendError(type, message)``; a backend that died (process gone, socket broken)
raises ``BackendDied`` within a second instead of hanging the caller.

No bpy here: the add-on calls this from a background thread and applies results on the main
thread.
"""
from __future__ import annotations

import collections
import itertools
import json
import os
import queue
import secrets
import socket
import subprocess
import threading
import time

import numpy as np

from . import wire

POLL_S = 0.2  # how often a blocked read checks that the backend process is still alive
MAX_REPLY_BYTES = 1 << 30


class BackendError(Exception):
    """The backend refused or failed a request; ``type`` is one of ``wire.ERROR_TYPES``."""

    def __init__(self, type: str, message: str):
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message


class Cancelled(BackendError):
    """A ``generate`` stopped because the client cancelled it."""


class BackendDied(ConnectionError):
    """The backend process exited or its connection broke; restart it to carry on."""


class BackendStartError(RuntimeError):
    """The backend did not come up; the message carries the end of its stderr."""


class BackendProcess:
    """A backend server started by us; ``connect()`` gives a ``Client`` to it."""

    def __init__(self, command, env, cwd, timeout):
        self.command, self.env, self.cwd, self.timeout = list(command), dict(env), cwd, timeout
        self.proc: subprocess.Popen | None = None
        self.info: dict = {}
        self.token = ""
        self._stderr = collections.deque(maxlen=200)

    @classmethod
    def launch(cls, python_exe: str, args=(), env: dict | None = None, timeout: float = 120.0,
               cwd: str | None = None) -> BackendProcess:
        """Start ``python_exe -m inference_backend.server *args`` and wait for its ready line.

        ``env`` defaults to this process's environment; ``cwd`` must let the interpreter import
        ``inference_backend`` (or set PYTHONPATH in ``env``)."""
        command = [python_exe, "-m", "inference_backend.server", *args]
        process = cls(command, os.environ if env is None else env, cwd, timeout)
        process.start()
        return process

    @property
    def host(self) -> str:
        return self.info.get("host", "127.0.0.1")

    @property
    def port(self) -> int:
        return int(self.info["port"])

    def start(self) -> None:
        self.token = secrets.token_urlsafe(32)
        env = dict(self.env, **{wire.TOKEN_ENV: self.token})
        self._stderr = collections.deque(maxlen=200)
        try:
            self.proc = subprocess.Popen(self.command, env=env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise BackendStartError(f"cannot start the backend with {self.command[0]!r}: {exc}") from None
        ready: queue.Queue = queue.Queue()
        threading.Thread(target=self._read_stdout, args=(self.proc, ready), daemon=True).start()
        stderr_thread = threading.Thread(target=self._read_stderr, args=(self.proc, self._stderr), daemon=True)
        stderr_thread.start()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                line = ready.get(timeout=0.1)
                break
            except queue.Empty:
                pass
            if self.proc.poll() is not None:
                stderr_thread.join(timeout=2.0)
                raise BackendStartError(f"the backend exited with code {self.proc.returncode} before it was ready "
                                        f"({' '.join(self.command)}):\n{self.stderr_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise BackendStartError(f"the backend printed no ready line within {self.timeout:.0f} s "
                                        f"({' '.join(self.command)}):\n{self.stderr_tail()}")
        try:
            self.info = json.loads(line[len(wire.READY_PREFIX):])
            int(self.info["port"])
        except (ValueError, KeyError, TypeError):
            self.kill()
            raise BackendStartError(f"the backend's ready line is malformed: {line[:200]!r}") from None
        if self.info.get("protocol") != wire.PROTOCOL_VERSION:
            self.kill()
            raise BackendStartError(f"the backend speaks protocol {self.info.get('protocol')}, this add-on "
                                    f"{wire.PROTOCOL_VERSION}: update one of them")

    @staticmethod
    def _read_stdout(proc, ready: queue.Queue) -> None:
        for line in proc.stdout:  # keep draining after the ready line so the pipe never fills
            if line.startswith(wire.READY_PREFIX):
                ready.put(line.strip())

    @staticmethod
    def _read_stderr(proc, tail) -> None:
        for line in proc.stderr:
            tail.append(line.rstrip("\n"))

    def stderr_tail(self, lines: int = 40) -> str:
        return "\n".join(list(self._stderr)[-lines:]) or "(no output on stderr)"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def connect(self, timeout: float = 5.0) -> Client:
        return Client(self.host, self.port, self.token, process=self, connect_timeout=timeout)

    def stop(self, timeout: float = 5.0) -> int | None:
        """Ask the server to shut down, then terminate and finally kill it if it lingers."""
        if self.proc is None:
            return None
        if self.alive:
            try:
                with self.connect(timeout=1.0) as client:
                    client.shutdown()
            except (OSError, BackendError, BackendDied):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> BackendProcess:
        """Stop (if needed) and start again with the same command; sessions must be reopened."""
        self.stop()
        self.start()
        return self


class Client:
    """One authenticated connection. Calls block; ``cancel`` may come from another thread."""

    def __init__(self, host: str, port: int, token: str, process: BackendProcess | None = None,
                 connect_timeout: float = 5.0):
        self.process = process
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._dead: str | None = None
        self._generate_id: int | None = None
        try:
            self._sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise BackendDied(f"cannot connect to the backend at {host}:{port}: {exc}{self._process_note()}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.settimeout(POLL_S)
        self.server_info = self._request("hello", {"token": token}).fields

    # --- verbs ---------------------------------------------------------------------------
    def hello(self) -> dict:
        """Server description: protocol, version, device, models, modules."""
        return self._request("hello").fields

    def open_session(self, intent: str, weights: dict | None = None, seed: int = 0, fps: float = 30.0,
                     history=None, scene_grid=None, scene_origin=None, voxel_size: float | None = None,
                     scene_vertices=None, scene_faces=None, fill: bool = False, start: dict | None = None) -> str:
        """Open a reaction session; returns its id. The scene is either an occupancy grid
        (``scene_grid`` (X,Y,Z) bool, ``scene_origin`` centre of voxel 0, ``voxel_size``) or a
        mesh (``scene_vertices``, ``scene_faces``, ``voxel_size``) the server voxelizes.
        ``history``: (H, 22, 3) partner joints seen so far; ``start``: optional initial
        ``transl``/``global_orient``/``body_pose`` of the reacting character."""
        fields = {"intent": intent, "weights": dict(weights or {}), "seed": int(seed), "fps": float(fps)}
        arrays = {}
        if history is not None:
            arrays["history"] = np.asarray(history, np.float32)
        if scene_grid is not None:
            arrays["scene_grid"] = np.asarray(scene_grid).astype(np.uint8)
            arrays["scene_origin"] = np.asarray(scene_origin, np.float32)
        if scene_vertices is not None:
            arrays["scene_vertices"] = np.asarray(scene_vertices, np.float32)
            arrays["scene_faces"] = np.asarray(scene_faces, np.int32)
            if fill:
                fields["fill"] = True
        if voxel_size is not None:
            fields["voxel_size"] = float(voxel_size)
        for key, value in (start or {}).items():
            arrays["start_" + key] = np.asarray(value, np.float32)
        return self._request("open_session", fields, arrays).fields["session"]

    def step(self, session: str, partner_frame) -> dict:
        """Newest partner frame (22, 3) → one reaction frame: transl, global_orient, body_pose, joints."""
        reply = self._request("step", {"session": session}, {"frame": np.asarray(partner_frame, np.float32)})
        return reply.arrays

    def generate(self, session: str, partner, on_progress=None) -> dict:
        """Whole partner sequence (T, 22, 3) → reaction arrays (T, ...). ``on_progress(done, total)``
        is called as the server reports; returning False cancels (raises ``Cancelled``)."""
        reply = self._request("generate", {"session": session}, {"partner": np.asarray(partner, np.float32)},
                              on_progress=on_progress, track_generate=True)
        return reply.arrays

    def cancel(self) -> None:
        """Cancel the running ``generate`` (safe from another thread); it then raises ``Cancelled``."""
        target = self._generate_id
        if target is not None:
            self._send(wire.encode("cancel", next(self._ids), {"target": target}))

    def voxelize(self, vertices, faces, voxel_size: float, fill: bool = False):
        """Mesh → (occupancy (X, Y, Z) bool, origin (3,) = centre of voxel 0, voxel size)."""
        fields = {"voxel_size": float(voxel_size)}
        if fill:
            fields["fill"] = True
        reply = self._request("voxelize", fields, {"vertices": np.asarray(vertices, np.float32),
                                                   "faces": np.asarray(faces, np.int32)})
        return reply.arrays["grid"].astype(bool), reply.arrays["origin"], float(reply.fields["voxel_size"])

    def body_mesh(self, model_path: str) -> dict:
        """The skinned rest mesh of an SMPL-X model file on the backend's machine: arrays
        ``vertices`` (V, 3) Z-up with the pelvis at the origin, ``faces`` (F, 3) int32,
        ``weights`` (V, 55) per SMPL-X joint, ``rest_offsets`` (55, 3), the file's exact skeleton."""
        return self._request("body_mesh", {"model_path": str(model_path)}).arrays

    def close_session(self, session: str) -> None:
        self._request("close", {"session": session})

    def shutdown(self) -> None:
        """Stop the server (every client's sessions end)."""
        self._request("shutdown")

    def close(self) -> None:
        self._dead = self._dead or "the client was closed"
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- transport -----------------------------------------------------------------------
    def _request(self, verb, fields=None, arrays=None, on_progress=None, track_generate=False) -> wire.Message:
        id = next(self._ids)
        if track_generate:
            self._generate_id = id
        try:
            self._send(wire.encode(verb, id, fields, arrays))
            while True:
                message = self._read()
                if message.id not in (id, 0):
                    continue  # a late message of an earlier, cancelled request
                if message.verb == "progress":
                    if on_progress is not None and on_progress(message.fields.get("done"), message.fields.get("total")) is False:
                        self.cancel()
                    continue
                if message.verb == "error":
                    error = message.fields.get("error") or {}
                    kind, text = str(error.get("type", "internal")), str(error.get("message", "(no message)"))
                    raise (Cancelled if kind == "cancelled" else BackendError)(kind, text)
                return message
        finally:
            if track_generate:
                self._generate_id = None

    def _send(self, frame: bytes) -> None:
        self._check_alive()
        view = memoryview(frame)
        with self._send_lock:  # send in pieces: a socket timeout bounds each wait, not the whole frame
            while view:
                try:
                    view = view[self._sock.send(view):]
                except socket.timeout:
                    self._check_alive()
                except OSError as exc:
                    self._die(f"the connection to the backend broke ({exc})")

    def _read(self) -> wire.Message:
        length = wire.parse_length(self._recv_exact(4), MAX_REPLY_BYTES)
        try:
            return wire.decode(self._recv_exact(length), max_elements=MAX_REPLY_BYTES)
        except wire.WireError as exc:
            self._die(f"the backend sent a malformed reply ({exc.message})")

    def _recv_exact(self, count: int) -> bytearray:
        buffer = bytearray(count)
        view, got = memoryview(buffer), 0
        while got < count:
            self._check_alive()
            try:
                n = self._sock.recv_into(view[got:])
            except socket.timeout:
                continue  # loop round to check the process
            except OSError as exc:
                self._die(f"the connection to the backend broke ({exc})")
            if n == 0:
                self._die("the backend closed the connection")
            got += n
        return buffer

    def _check_alive(self) -> None:
        if self._dead:
            raise BackendDied(self._dead)
        if self.process is not None and self.process.proc is not None and self.process.proc.poll() is not None:
            self._die("the backend process exited")

    def _die(self, reason: str):
        self._dead = reason + self._process_note()
        try:
            self._sock.close()
        except OSError:
            pass
        raise BackendDied(self._dead)

    def _process_note(self) -> str:
        process = self.process
        if process is None or process.proc is None:
            return ""
        code = process.proc.poll()
        if code is None:
            return ""
        return f" (exit code {code}); its last output:\n{process.stderr_tail(15)}"
