"""Helpers for tests that run a real backend server process on loopback."""
from __future__ import annotations

import socket
import sys

from addon import wire
from addon.client import BackendProcess
from inference_backend.paths import REPO_ROOT

ECHO = ["--session-factory", "tests.echo_runtime:load"]


def launch(*args: str, env: dict | None = None) -> BackendProcess:
    return BackendProcess.launch(sys.executable, [*ECHO, *args], env=env, cwd=str(REPO_ROOT), timeout=120)


def raw_connection(process: BackendProcess, token: str | None = None, timeout: float = 10.0) -> socket.socket:
    """A bare socket (authenticated with ``token`` when given) for sending hand-made frames."""
    sock = socket.create_connection((process.host, process.port), timeout=timeout)
    if token is not None:
        sock.sendall(wire.encode("hello", 0, {"token": token}))
        reply = read_message(sock)
        assert reply.verb == "result", reply
    return sock


def read_message(sock: socket.socket) -> wire.Message | None:
    """The next message, or None if the server closed the connection."""
    prefix = _recv(sock, 4)
    if prefix is None:
        return None
    body = _recv(sock, wire.parse_length(prefix, 1 << 30))
    if body is None:
        return None
    return wire.decode(body)


def _recv(sock, count):
    data = bytearray()
    while len(data) < count:
        try:
            chunk = sock.recv(count - len(data))
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def tiny_runtime(model_dir, device):
    """The real runtime and session factory on a tiny random prior (tests/tiny_prior.py) with
    the deterministic stand-in text encoder, so a server test starts in seconds."""
    from inference_backend.server.sessions import load_runtime_factory
    from tests.tiny_prior import fake_embed

    factory = load_runtime_factory(model_dir, device)
    factory.runtime.embed_text = fake_embed
    return factory
