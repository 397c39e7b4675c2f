#!/usr/bin/env python3
"""One entry point for setting up and running the project.

    python3 build.py demo       set up .venv and run the headless demo (main job)
    python3 build.py test       set up .venv with test tools and run the test suite
    python3 build.py test --all also run tests marked slow
    python3 build.py extension  build dist/remogen-<version>.zip (install it in Blender 4.2+)
    python3 build.py backend [--cuda] [--venv DIR] [--dry-run]
                                set up the backend's Python (torch) and print its interpreter

Only the Python standard library is used here, so it runs on a fresh machine with Python 3.11.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"


def _run(cmd: list[str], **kwargs) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, **kwargs)


def ensure_venv(requirements: str) -> None:
    """Create .venv and install `requirements` unless the same file was installed already."""
    req = ROOT / requirements
    digest = hashlib.sha256(b"".join((ROOT / f).read_bytes() for f in ("requirements.txt", requirements))).hexdigest()
    stamp = VENV / f".installed-{req.stem}"
    if PYTHON.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    # torch first and pinned, so no other package can pull a (multi-GB) CUDA build.
    if _run([PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", "torch==2.13.0"]) != 0:
        sys.exit("installing torch==2.13.0 failed")
    if _run([PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", req]) != 0:
        sys.exit(f"installing {requirements} failed")
    stamp.write_text(digest)


def cmd_demo(args: argparse.Namespace) -> int:
    ensure_venv("requirements.txt")
    return _run([PYTHON, "-m", "inference_backend.demo", *args.rest])


def cmd_test(args: argparse.Namespace) -> int:
    ensure_venv("requirements-test.txt")
    marker = [] if args.all else ["-m", "not slow"]
    code = _run([PYTHON, "-m", "pytest", "tests", *marker, *args.rest])
    if code == 5:  # pytest: no tests collected
        print("no tests were collected", file=sys.stderr)
    return code


def cmd_extension(args: argparse.Namespace) -> int:
    """Pack the add-on, the backend package and the shipped weights into dist/remogen-<version>.zip
    and check it with Blender's own extension validator (from the bpy module in .venv, if any)."""
    sys.path.insert(0, str(ROOT))
    from addon import packaging

    path = packaging.build_zip(Path(args.out))
    validator = packaging.find_validator(str(PYTHON)) if PYTHON.exists() else None
    if validator is None:
        validator = packaging.find_validator()
    if validator is None:
        print("note: Blender's extension validator was not found (no bpy module); the zip is not validated",
              file=sys.stderr)
    else:
        ok, output = packaging.validate(path, validator, str(PYTHON) if PYTHON.exists() else None)
        print(output)
        if not ok:
            print(f"{path}: Blender's extension validator rejected the zip", file=sys.stderr)
            return 1
    print(path)
    return 0


def cmd_backend(args: argparse.Namespace) -> int:
    """Set up a Python environment with torch for the backend and print its interpreter."""
    sys.path.insert(0, str(ROOT))
    from addon import backend_setup

    return backend_setup.main(args.rest, default_venv=ROOT / ".venv-backend", reuse=VENV)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="set up and run the headless demo")
    demo.set_defaults(func=cmd_demo)
    test = sub.add_parser("test", help="set up and run the tests")
    test.add_argument("--all", action="store_true", help="include tests marked slow")
    test.set_defaults(func=cmd_test)
    ext = sub.add_parser("extension", help="build the Blender extension zip")
    ext.add_argument("--out", default=str(ROOT / "dist"), help="output folder (default dist/)")
    ext.set_defaults(func=cmd_extension)
    backend = sub.add_parser("backend", add_help=False,
                             help="set up a Python environment with torch for the backend (--help for options)")
    backend.set_defaults(func=cmd_backend)
    args, rest = parser.parse_known_args()
    args.rest = rest  # anything else goes to the demo / to pytest
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
