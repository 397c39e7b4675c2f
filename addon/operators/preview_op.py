"""Live preview: a modal operator on a timer at the scene's frame rate. Each new frame reads the
partner's evaluated joints (main thread), steps the backend on a worker thread, and poses the
reaction rig when the answer arrives (main thread); with Record on, each pose is keyed into a
new action. Esc or the button again stops it."""
from __future__ import annotations

import time

import bpy
import numpy as np

from .. import runtime_state
from ..preview import PreviewState, preview_tick
from ..rig import keys
from ..rig.create_rig import RIG_TAG, bone_rest, create_smplx_rig
from ..rig.read_partner import evaluated_joint_positions, partner_bone_map
from ..rig.skeleton import BODY_JOINT_NAMES, load_rest_offsets
from ..rig.write_keys import new_action_for, next_action_name
from .common import backend_config, rest_skeleton_path, settings, tag_redraw, user_errors

_running = {"op": None}


def preview_rig(context, s):
    """The SMPL-X rig to pose: the chosen target if SMPL-X named, else a 'ReMoGen Preview' rig."""
    target = s.target if s.target_mode == "EXISTING" else None
    if target is not None and set(BODY_JOINT_NAMES) <= {b.name for b in target.data.bones}:
        return target
    obj = bpy.data.objects.get("ReMoGen Preview")
    if obj is None or obj.type != "ARMATURE" or RIG_TAG not in obj:
        obj = create_smplx_rig(load_rest_offsets(rest_skeleton_path(context)), name="ReMoGen Preview", context=context)
    return obj


def apply_pose(obj, pose: dict, rest, frame: int | None = None):
    """Pose `obj` with one reaction frame; key it at `frame` when given."""
    rots, heads = rest
    frames = {k: np.asarray(pose[k])[None] for k in ("transl", "global_orient", "body_pose")}
    local, transl = keys.local_rotations(frames)
    quats, loc = keys.pose_channels(local, transl, rots, heads[0], np.array(obj.matrix_world))
    for j, name in enumerate(BODY_JOINT_NAMES):
        pb = obj.pose.bones[name]
        pb.rotation_mode = "QUATERNION"
        pb.rotation_quaternion = quats[0, j].tolist()
        if frame is not None:
            pb.keyframe_insert("rotation_quaternion", frame=frame, group=name)
    root = obj.pose.bones[BODY_JOINT_NAMES[0]]
    root.location = loc[0].tolist()
    if frame is not None:
        root.keyframe_insert("location", frame=frame, group=BODY_JOINT_NAMES[0])


def tick(context, partner, bonemap, rig, rest, state: PreviewState, client, request, frame: int,
         record: bool = False):
    """One live-preview tick, synchronously: read the partner at `frame`, step the backend, pose
    (and with `record`, key) the rig. The modal operator splits the same work across threads;
    tests and `python -m inference_backend.bench blender` call this directly. Returns the pose."""
    intent, weights, seed, fps = request
    partner_now = evaluated_joint_positions(context, partner, bonemap, frame)
    pose = preview_tick(
        state, frame, partner_now,
        open_session=lambda history: client.open_session(intent, weights=weights, seed=seed, fps=fps, history=history),
        step=client.step, close_session=client.close_session)
    if pose is not None:
        apply_pose(rig, pose, rest, frame if record else None)
    return pose


class REMOGEN_OT_live_preview(bpy.types.Operator):
    """Generate the reaction live while you play or scrub (Esc to stop)"""

    bl_idname = "remogen.live_preview"
    bl_label = "Live Preview"

    def invoke(self, context, event):
        if _running["op"] is not None:
            _running["op"].stop_requested = True
            return {"FINISHED"}
        if bpy.app.background:
            self.report({"ERROR"}, "ReMoGen: live preview needs the interactive UI; use Generate in background mode")
            return {"CANCELLED"}
        s = settings(context)
        try:
            self.bonemap = partner_bone_map(s.partner, s.partner_map)
            self.rig = preview_rig(context, s)
            self.rest = bone_rest(self.rig, BODY_JOINT_NAMES)
        except user_errors() as exc:
            self.report({"ERROR"}, f"ReMoGen: {exc}")
            return {"CANCELLED"}
        if s.record:
            new_action_for(self.rig, next_action_name(s.intent))
        self.state = PreviewState()
        self.job = None
        self.stop_requested = False
        self.config = backend_config(context)
        self.request = (s.intent, s.weights(), s.seed)
        fps = context.scene.render.fps / context.scene.render.fps_base
        self.fps = fps
        self.timer = context.window_manager.event_timer_add(1.0 / fps, window=context.window)
        context.window_manager.modal_handler_add(self)
        _running["op"] = self
        s.backend_state = "running" if runtime_state.backend_running() else "starting"
        return {"RUNNING_MODAL"}

    def _tick_job(self, frame, partner_now):
        intent, weights, seed = self.request
        state, config, fps = self.state, self.config, self.fps

        def work(job):
            client = runtime_state.backend_client(config)
            start = time.perf_counter()
            pose = preview_tick(
                state, frame, partner_now,
                open_session=lambda history: client.open_session(intent, weights=weights, seed=seed, fps=fps, history=history),
                step=client.step,
                close_session=client.close_session,
            )
            return frame, pose, time.perf_counter() - start, client.server_info.get("device", "")

        return runtime_state.Job(work).start()

    def modal(self, context, event):
        s = settings(context)
        if event.type == "ESC" or self.stop_requested:
            return self._stop(context)
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if self.job is not None and self.job.done:
            job, self.job = self.job, None
            if job.error is not None:
                self.report({"ERROR"}, f"ReMoGen live preview stopped: {job.error}")
                return self._stop(context)
            frame, pose, seconds, device = job.result
            if pose is not None:
                apply_pose(self.rig, pose, self.rest, frame if s.record else None)
                s.latency_ms = seconds * 1000.0
                s.backend_state, s.backend_device = "running", str(device)
                tag_redraw(context)
        frame = context.scene.frame_current
        if self.job is None and frame != self.state.last_frame:
            try:
                partner_now = evaluated_joint_positions(context, s.partner, self.bonemap, frame)
            except (ReferenceError, KeyError) as exc:
                self.report({"ERROR"}, f"ReMoGen live preview stopped: the partner changed ({exc})")
                return self._stop(context)
            self.job = self._tick_job(frame, partner_now)
        return {"PASS_THROUGH"}

    def _stop(self, context):
        context.window_manager.event_timer_remove(self.timer)
        _running["op"] = None
        if self.job is not None:
            self.job.wait(5.0)
        return {"FINISHED"}


def is_running() -> bool:
    return _running["op"] is not None
