"""`python3 build.py backend` and the preferences button's set-up: the commands planned for each
case (fresh CPU / CUDA environment, torch already there), GPU detection through `nvidia-smi`,
the dry run through build.py, and the subprocess the button watches (success and failure)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from addon import backend_setup as bs
from addon.setup_process import SetupProcess

ROOT = Path(__file__).resolve().parents[1]


def _torch_steps(plan):
    return [s for s in plan.steps if any(a.startswith("torch==") for a in s) and len(s) <= 9]


def test_fresh_cpu_environment_on_linux(tmp_path):
    plan = bs.make_plan(tmp_path / "env", "/usr/bin/python3", cuda=False)
    assert plan.python == tmp_path / "env" / "bin" / "python"
    assert plan.steps[0] == ["/usr/bin/python3", "-m", "venv", str(tmp_path / "env")]
    torch = plan.steps[1]
    assert torch[-1] == "torch==2.13.0" and "--index-url" not in torch  # pip's configured index
    custom = bs.make_plan(tmp_path / "env", "/usr/bin/python3", cuda=False, torch_index="file:///wheels/cpu")
    assert custom.steps[1][-3:] == ["torch==2.13.0", "--index-url", "file:///wheels/cpu"]
    assert set(bs.REQUIREMENTS) <= set(plan.steps[2]) and "torch==2.13.0" in plan.steps[2]
    assert plan.steps[-1][:2] == [str(plan.python), "-c"]


def test_cuda_and_an_existing_torch():
    cuda = bs.make_plan(Path("/x/env"), "py", cuda=True)
    assert "--index-url" not in cuda.steps[1] and cuda.steps[1][-1] == "torch==2.13.0"
    have_cpu = {"version": "2.13.0+cpu", "cuda": None}
    reuse = bs.make_plan(Path("/x/env"), "py", cuda=False, torch_info=have_cpu)
    assert not any("torch==2.13.0" == s[-1] for s in reuse.steps) and "already installed" in reuse.notes[0]
    upgrade = bs.make_plan(Path("/x/env"), "py", cuda=True, torch_info=have_cpu)
    assert upgrade.steps[1][-1] == "torch==2.13.0"  # a CPU build does not do for --cuda
    old = bs.make_plan(Path("/x/env"), "py", cuda=False, torch_info={"version": "2.1.0", "cuda": None})
    assert any(s[-1] == "torch==2.13.0" for s in old.steps)


def test_backend_requirements_match_requirements_txt():
    listed = {line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()}
    assert set(bs.REQUIREMENTS) <= listed and f"torch=={bs.TORCH_VERSION}" in listed


def _fake_nvidia_smi(folder: Path, output: str, code: int = 0) -> dict:
    exe = folder / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\necho '{output}'\nexit {code}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return dict(os.environ, PATH=f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_dry_run_through_build_py_detects_the_gpu(tmp_path):
    env_dir = tmp_path / "venv"
    cmd = [sys.executable, str(ROOT / "build.py"), "backend", "--dry-run", "--venv", str(env_dir)]
    gpu = _fake_nvidia_smi(tmp_path, "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)")
    out = subprocess.run(cmd, capture_output=True, text=True, env=gpu, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "CUDA build" in out.stdout
    assert f"would run: {sys.executable} -m venv {env_dir}" in out.stdout
    assert not env_dir.exists()  # a dry run changes nothing
    broken = _fake_nvidia_smi(tmp_path, "NVIDIA-SMI has failed", code=9)
    out = subprocess.run(cmd, capture_output=True, text=True, env=broken, timeout=120)
    assert "CPU build" in out.stdout
    out = subprocess.run(cmd + ["--cpu"], capture_output=True, text=True, env=gpu, timeout=120)
    assert "CPU build" in out.stdout


def test_setup_process_reports_success_and_failure(tmp_path):
    ok = SetupProcess(["--venv", str(tmp_path / "a"), "--cpu", "--dry-run"])
    assert ok.wait(120) == 0 and any(line.startswith("would run:") for line in ok.output())
    assert ok.result_python() == ""  # a dry run sets nothing up
    bad = SetupProcess(["--venv", str(tmp_path / "b"), "--cpu", "--python", str(tmp_path / "no-python")])
    assert bad.wait(120) != 0
    assert any("step failed" in line for line in bad.output()) and bad.result_python() == ""
