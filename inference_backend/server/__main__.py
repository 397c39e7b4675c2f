"""``python -m inference_backend.server``: start the backend and print one ready line.

stdout carries exactly one line, ``REMOGEN_READY {json}``, once the socket is listening and the
models are loaded; everything else goes to stderr. The process stops on ``shutdown``,
SIGTERM/SIGINT, or when the process that started it goes away (so a crashed Blender leaves no
backend behind).
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from inference_backend.paths import ASSETS_DIR

from .auth import AuthError, load_token
from .protocol import READY_PREFIX
from .sessions import RuntimeUnavailable, load_factory


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m inference_backend.server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: a free port, see the ready line)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: CUDA when torch sees a GPU, else CPU")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow binding a non-loopback address (the token is still required)")
    parser.add_argument("--token-file", type=Path, help="file holding the token (mode 0600); default: $REMOGEN_TOKEN")
    parser.add_argument("--model-dir", type=Path, default=ASSETS_DIR, help="folder of the shipped weights")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process exits (default: the process that started us)")
    parser.add_argument("--session-factory", metavar="MODULE:LOADER", default=None,
                        help="load sessions from LOADER(model_dir=, device=) instead of the shipped runtime")
    return parser.parse_args(argv)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False


def pick_device(requested: str) -> str:
    import torch

    # The models are small: on a CPU, intra-op threads mostly wait on each other (and on other
    # processes), so one thread gives the steadiest per-frame latency (docs/modules.md).
    torch.set_num_threads(1)
    if requested == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        raise RuntimeUnavailable("--device cuda was requested but torch sees no CUDA device "
                                 f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'})")
    return "cuda" if available else "cpu"


def log(text: str) -> None:
    """A line on stderr; never raises (the reader of our stderr may be gone)."""
    try:
        print(f"[remogen-server] {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def watch_parent(parent_pid: int, on_exit, poll_s: float = 0.5) -> None:
    """Call ``on_exit`` once the parent is gone (POSIX reparents orphans, so getppid changes)."""

    def alive() -> bool:
        if os.name == "posix" and parent_pid == _initial_ppid:
            return os.getppid() == parent_pid
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return False
        except (PermissionError, OSError):
            return True
        return True

    def loop():
        while alive():
            threading.Event().wait(poll_s)
        on_exit()  # first: stderr may be a broken pipe now that the parent is gone
        log(f"parent process {parent_pid} is gone; shutting down")

    threading.Thread(target=loop, name="remogen-parent-watch", daemon=True).start()


_initial_ppid = os.getppid()


def main(argv=None) -> int:
    args = parse_args(argv)

    def fail(message: str) -> int:
        print(f"remogen server: error: {message}", file=sys.stderr, flush=True)
        return 2

    if not args.allow_remote and not is_loopback(args.host):
        return fail(f"--host {args.host} is not a loopback address; binding it exposes the backend to the network. "
                    "Pass --allow-remote to do so on purpose (clients still need the token).")
    try:
        token = load_token(args.token_file)
    except AuthError as exc:
        return fail(str(exc))
    try:
        device = pick_device(args.device)
        factory = load_factory(args.session_factory, args.model_dir, device)
    except RuntimeUnavailable as exc:
        return fail(str(exc))

    from .server import Server

    try:
        server = Server(factory, token, device, host=args.host, port=args.port)
    except OSError as exc:
        return fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop())
    watch_parent(args.parent_pid or _initial_ppid, server.stop)
    ready = dict(server.info(), host=args.host, port=server.port, pid=os.getpid())
    sys.stdout.write(READY_PREFIX + json.dumps(ready, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    server.report(f"serving on {args.host}:{server.port} (device {device})")
    server.serve_forever()
    server.report("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
