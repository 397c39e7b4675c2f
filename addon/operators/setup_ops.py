"""Set Up Backend Python: runs backend_setup.py in a subprocess with Blender's Python, shows its
output in the preferences and, when it succeeds, fills in the Backend Python preference (bpy).

Non-blocking: the process runs on its own, a timer polls it (`poll_setup`, a plain function the
tests call directly, since timers never run in background mode)."""
from __future__ import annotations

from pathlib import Path

import bpy

from .. import preferences
from ..setup_process import SetupProcess

_state: dict = {"process": None}
POLL_S = 0.5


def setup_running() -> bool:
    process = _state["process"]
    return process is not None and not process.done


def setup_output(last: int | None = None) -> list[str]:
    process = _state["process"]
    return process.output(last) if process is not None else []


def setup_args(prefs, dry_run: bool) -> list[str]:
    venv = bpy.path.abspath(prefs.setup_venv) if prefs.setup_venv else ""
    if not venv:
        venv = str(Path(bpy.utils.extension_path_user(__package__.rsplit(".", 1)[0], create=True)) / "backend-venv")
    args = ["--venv", venv]
    if prefs.setup_torch == "CPU":
        args.append("--cpu")
    elif prefs.setup_torch == "CUDA":
        args.append("--cuda")
    if dry_run:
        args.append("--dry-run")
    return args


def poll_setup(context=None):
    """Copy the process's state into the preferences; returns None when finished (timer protocol)."""
    process = _state["process"]
    prefs = preferences.get(context)
    if process is None or prefs is None:
        return None
    lines = process.output()
    if not process.done:
        prefs.setup_status = "Setting up: " + (lines[-1][:120] if lines else "starting")
        return POLL_S
    if process.returncode == 0:
        python = process.result_python()
        if python:
            prefs.backend_python = python
            prefs.setup_status = f"Backend Python ready: {python}"
        else:
            prefs.setup_status = "Dry run: the commands are listed below"
    else:
        tail = next((line for line in reversed(lines) if line.strip()), "no output")
        prefs.setup_status = f"Set-up failed (exit code {process.returncode}): {tail[:160]}"
    for window in getattr(bpy.context.window_manager, "windows", []):
        for area in window.screen.areas:
            area.tag_redraw()
    return None


class REMOGEN_OT_setup_backend(bpy.types.Operator):
    """Create a Python environment with torch for the ReMoGen backend (runs in the background)"""

    bl_idname = "remogen.setup_backend"
    bl_label = "Set Up Backend Python"

    dry_run: bpy.props.BoolProperty(name="Dry Run", description="Only list the commands", options={"SKIP_SAVE"})

    def execute(self, context):
        prefs = preferences.get(context)
        if prefs is None:
            self.report({"ERROR"}, "ReMoGen: the add-on's preferences are not available")
            return {"CANCELLED"}
        if setup_running():
            self.report({"WARNING"}, "ReMoGen: the backend set-up is already running")
            return {"CANCELLED"}
        try:
            _state["process"] = SetupProcess(setup_args(prefs, self.dry_run))
        except OSError as exc:
            self.report({"ERROR"}, f"ReMoGen: cannot start the set-up: {exc}")
            return {"CANCELLED"}
        prefs.setup_status = "Setting up: starting"
        if not bpy.app.timers.is_registered(poll_setup):
            bpy.app.timers.register(poll_setup, first_interval=POLL_S)
        self.report({"INFO"}, "ReMoGen: setting up the backend Python in the background")
        return {"FINISHED"}


def cancel_setup():
    process = _state["process"]
    if process is not None:
        process.cancel()
