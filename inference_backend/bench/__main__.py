"""`python -m inference_backend.bench [prior|session|server|blender] [options]`

Benchmarks print tables; they are never timed assertions in tests (the machines are shared).

* `prior`   one online segment of the motion prior (10 denoiser steps + decode), with/without CFG
* `session` ReactionSession per-frame `step` latency p50/p99 and batch throughput
* `server`  round-trip overhead of `step` over loopback, and `voxelize` on a 100k-face mesh
* `blender` Live Preview ticks in Blender (read partner + step + pose the rig)

With no part named, runs all four with their defaults and writes `docs/benchmarks.md` (machine,
device, command and every table) besides printing it.
"""
from __future__ import annotations

import contextlib
import io
import os
import platform
import subprocess
import sys
import time

from ..paths import REPO_ROOT

PARTS = ("prior", "session", "server", "blender")


def _part_main(name: str):
    if name == "prior":
        from .prior import main
    elif name == "session":
        from .session import main
    elif name == "server":
        from .server import main
    else:
        from .blender import main
    return main


def _machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
        cpu = model
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return f"{cpu}, {os.cpu_count()} logical CPUs; CUDA GPU: {gpu}; torch {torch.__version__}; Python {platform.python_version()}"


def run_all() -> int:
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    sections = [f"# Benchmarks\n\nMade by `python -m inference_backend.bench` at revision `{revision or 'unknown'}` "
                f"on {time.strftime('%Y-%m-%d')}.\n\nMachine: {_machine()}.\n\nThe machines here are shared: "
                "compare rows within one run, not across runs.\n"]
    code = 0
    for name in PARTS:
        print(f"== {name}", flush=True)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            try:
                part_code = _part_main(name)([])
            except Exception as exc:  # one failing part must not lose the others' tables
                print(f"failed: {type(exc).__name__}: {exc}")
                part_code = 1
        text = buffer.getvalue()
        print(text, flush=True)
        code = code or part_code
        sections.append(f"## {name}\n\nCommand: `python -m inference_backend.bench {name}`\n\n```\n{text.rstrip()}\n```\n")
    out = REPO_ROOT / "docs" / "benchmarks.md"
    out.write_text("\n".join(sections))
    print(f"wrote {out}")
    return code


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        return run_all()
    if argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] not in PARTS:
        print(f"unknown benchmark {argv[0]!r}; choose from {', '.join(PARTS)}", file=sys.stderr)
        return 2
    return _part_main(argv[0])(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
