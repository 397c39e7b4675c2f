"""`python -m inference_backend.bench blender [--ticks 300] [--session-factory M:F] [--threads 2]`

Live-preview latency as the add-on sees it, per tick: read the partner's evaluated joints in
Blender (bpy module), step the backend (a real process on loopback), pose the SMPL-X rig. The
partner is CMU take 18_01 through Blender's BVH importer when the shared data is present, else
a synthetic walking SMPL-X rig. Prints p50/p99 per tick in ms (target p99 <= 33 ms on 2 CPU cores).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..paths import REPO_ROOT, default_data_dir


def _partner(bpy, ext, frames: int):
    data = default_data_dir() / "cmu" / "cmu_pairs_18-23_verified.tar.xz"
    if data.is_file():
        import tarfile

        out = Path(tempfile.mkdtemp(prefix="remogen-bench-"))
        with tarfile.open(data) as tf:
            tf.extract("pairs/18_01.bvh", out, filter="data")
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = 30, 1.0
        bpy.ops.import_anim.bvh(filepath=str(out / "pairs" / "18_01.bvh"), global_scale=0.056444,
                                use_fps_scale=True, update_scene_fps=False)
        return bpy.data.objects["18_01"], "CMU 18_01 (BVH importer)"
    keys, skeleton, write_keys, create = (ext(n) for n in ("rig.keys", "rig.skeleton", "rig.write_keys", "rig.create_rig"))
    rest = skeleton.load_rest_offsets(skeleton.find_rest_skeleton(None, None, str(REPO_ROOT)))
    rig = create.create_smplx_rig(rest, name="Partner")
    names = skeleton.BODY_JOINT_NAMES
    rots, heads = create.bone_rest(rig, names)
    t = np.arange(frames)
    reaction = {"global_orient": np.zeros((frames, 3)), "body_pose": np.zeros((frames, 63)),
                "transl": np.stack([np.zeros(frames), -0.04 * t, np.full(frames, 0.95)], 1)}
    local, transl = keys.local_rotations(reaction)
    quats, loc = keys.pose_channels(local, transl, rots, heads[0])
    write_keys.write_pose_action(rig, list(names), quats, loc, 1, "walk")
    return rig, "synthetic walk"


def run_ticks(ticks: int = 300, backend_args: list[str] | None = None, python: str | None = None,
              intent: str = "shakes hands with the partner") -> dict:
    """Drive `ticks` frames through the add-on's plain tick function; returns timings (seconds)."""
    import importlib

    from addon import headless

    bpy = headless.import_bpy()
    headless.enable_extension()

    def ext(name):
        return importlib.import_module(f"{headless.PACKAGE}.{name}")

    bpy.ops.wm.read_homefile(use_empty=True)
    partner, partner_label = _partner(bpy, ext, ticks)
    preview_op, skeleton, create = ext("operators.preview_op"), ext("rig.skeleton"), ext("rig.create_rig")
    backend = ext("backend")
    config = backend.BackendConfig(python=python or sys.executable, backend_dir=str(REPO_ROOT), device="cpu",
                                   extra_args=list(backend_args or []))
    rest_offsets = skeleton.load_rest_offsets(skeleton.find_rest_skeleton(None, None, str(REPO_ROOT)))
    rig = create.create_smplx_rig(rest_offsets, name="ReMoGen Preview")
    rest = create.bone_rest(rig, skeleton.BODY_JOINT_NAMES)
    bonemap = ext("rig.read_partner").partner_bone_map(partner)
    process, client = backend.start_backend(config)
    state = ext("preview").PreviewState()
    frame_end = int(partner.animation_data.action.frame_range[1])
    times, poses = [], 0
    try:
        for i in range(ticks):
            frame = 1 + i % frame_end  # loop playback: a jump back restarts the session
            start = time.perf_counter()
            pose = preview_op.tick(bpy.context, partner, bonemap, rig, rest, state, client,
                                   (intent, {"hhi": 1.0, "hsi": 1.0}, 0, 30.0), frame)
            times.append(time.perf_counter() - start)
            poses += pose is not None
            if pose is not None and not all(np.isfinite(np.asarray(v)).all() for v in pose.values()):
                raise RuntimeError(f"non-finite pose at tick {i}")
        info = dict(client.server_info)
    finally:
        client.shutdown()
        client.close()
        process.stop()
    return {"times": np.array(times), "poses": poses, "restarts": state.restarts, "partner": partner_label,
            "device": info.get("device", "?"), "models": info.get("models", {})}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference_backend.bench blender", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=300)
    ap.add_argument("--session-factory", default=None, help="backend session factory MODULE:LOADER (default: shipped runtime)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for the backend (OMP/MKL; default 2)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(args.threads))
    extra = ["--session-factory", args.session_factory] if args.session_factory else []
    res = run_ticks(args.ticks, extra)
    ms = res["times"] * 1000.0
    warm = ms[1:] if len(ms) > 1 else ms  # the first tick opens the session
    print(f"partner: {res['partner']}; backend device {res['device']}; models {res['models']}")
    print(f"ticks {len(ms)} (poses {res['poses']}, session restarts {res['restarts']}); first tick {ms[0]:.1f} ms")
    print(f"per tick (read partner + step + pose rig): p50 {np.percentile(warm, 50):.2f} ms  "
          f"p99 {np.percentile(warm, 99):.2f} ms  max {warm.max():.2f} ms  (target p99 <= 33 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
