"""Generate: the whole frame range at once. Interactive: the backend call runs on a worker
thread with progress in the panel and Esc to cancel (modal timer); in background mode (or when
called from a script with EXEC) it runs synchronously."""
from __future__ import annotations

import bpy

from .. import generate, runtime_state
from .common import backend_config, rest_skeleton_path, settings, tag_redraw, user_errors


def build_request(context) -> generate.Request:
    s = settings(context)
    if s.partner is None:
        raise generate.GenerateError("choose the partner armature first")
    start, end = s.frame_range(context.scene)
    target = s.target.name if s.target_mode == "EXISTING" and s.target is not None else ""
    if s.target_mode == "EXISTING" and not target:
        raise generate.GenerateError("choose the armature to bake onto, or switch Target to New SMPL-X Rig")
    return generate.Request(
        partner=s.partner.name, intent=s.intent, frame_start=start, frame_end=end,
        scene_objects=[s.scene_mesh.name] if s.scene_mesh is not None else [], weights=s.weights(), seed=s.seed,
        partner_map=s.partner_map, target=target, target_map=s.target_map,
        rest_skeleton=rest_skeleton_path(context), voxel_size=s.voxel_size, smplx_model=smplx_model_path(context),
    )


def smplx_model_path(context) -> str:
    """The SMPL-X model file from the preferences (absolute), or ""."""
    from .. import preferences

    prefs = preferences.get(context)
    path = getattr(prefs, "smplx_model", "") if prefs is not None else ""
    return bpy.path.abspath(path) if path else ""


class REMOGEN_OT_generate(bpy.types.Operator):
    """Generate the reaction over the frame range into a new action"""

    bl_idname = "remogen.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    _timer = None
    _job = None
    _prepared = None

    def _start(self, context):
        request = build_request(context)
        prepared = generate.prepare(context, request)
        settings(context).backend_state = "starting" if not runtime_state.backend_running() else "running"
        return prepared

    def _finish(self, context, prepared, reaction):
        obj, action = generate.apply(context, prepared, reaction)
        s = settings(context)
        s.backend_state, s.progress = "running", 1.0
        self.report({"INFO"}, f"ReMoGen: wrote {action.name!r} on {obj.name!r}")
        return {"FINISHED"}

    def execute(self, context):  # synchronous: background mode and scripts
        try:
            prepared = self._start(context)
            client = runtime_state.backend_client(backend_config(context))
            reaction = generate.call_backend(client, prepared)
            return self._finish(context, prepared, reaction)
        except user_errors() as exc:
            self.report({"ERROR"}, f"ReMoGen: {exc}")
            return {"CANCELLED"}

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        try:
            self._prepared = self._start(context)
        except user_errors() as exc:
            self.report({"ERROR"}, f"ReMoGen: {exc}")
            return {"CANCELLED"}
        config = backend_config(context)
        prepared = self._prepared

        def work(job):
            client = runtime_state.backend_client(config)
            job.client = client

            def progress(done, total):
                job.progress = done / max(total, 1)
                return not job.cancelled

            return generate.call_backend(client, prepared, on_progress=progress)

        self._job = runtime_state.Job(work).start()
        self._timer = context.window_manager.event_timer_add(0.1, window=context.window)
        context.window_manager.modal_handler_add(self)
        settings(context).progress = 0.0
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        job = self._job
        if event.type == "ESC" and not job.cancelled:
            job.cancelled = True
            client = getattr(job, "client", None)
            if client is not None:
                client.cancel()
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        settings(context).progress = job.progress
        tag_redraw(context)
        if not job.done:
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        if job.error is not None:
            from ..client import Cancelled

            if isinstance(job.error, Cancelled) or job.cancelled:
                self.report({"WARNING"}, "ReMoGen: generation cancelled")
            elif isinstance(job.error, user_errors()):
                self.report({"ERROR"}, f"ReMoGen: {job.error}")
            else:
                self.report({"ERROR"}, f"ReMoGen: unexpected {type(job.error).__name__}: {job.error}")
            return {"CANCELLED"}
        try:
            return self._finish(context, self._prepared, job.result)
        except user_errors() as exc:
            self.report({"ERROR"}, f"ReMoGen: {exc}")
            return {"CANCELLED"}
