"""Server bench: what the process boundary costs.

    python -m inference_backend.bench.server [--frames 2000] [--model-dir assets]

* ``step`` round trip over loopback minus the same call in-process (target <= 0.5 ms p50).
  Measured with a session that does no work, so the number is the transport alone; when the
  trained runtime is present it is also measured end to end on the real model.
* ``voxelize`` of a ~100k-face scene mesh (target <= 0.5 s), first call and cached repeat.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from inference_backend.paths import ASSETS_DIR, REPO_ROOT

STEP_TARGET_MS = 0.5
VOXELIZE_TARGET_S = 0.5


class ZeroWorkSession:
    """Answers a step with fixed arrays of the real output's shapes: isolates transport cost."""

    def __init__(self, **_):
        self.out = {"transl": np.zeros(3, np.float32), "global_orient": np.zeros(3, np.float32),
                    "body_pose": np.zeros(63, np.float32), "joints": np.zeros((22, 3), np.float32)}

    def step(self, partner_frame):
        return self.out

    def generate(self, partner, progress=None):
        return {key: np.repeat(value[None], len(partner), 0) for key, value in self.out.items()}


def zero_work(model_dir, device):
    """Session-factory loader for ``--session-factory inference_backend.bench.server:zero_work``."""
    factory = lambda **settings: ZeroWorkSession(**settings)  # noqa: E731
    factory.models = {"zero-work": "transport bench session"}
    return factory


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1e3
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _time_steps(step, frames: np.ndarray) -> list[float]:
    times = []
    for frame in frames:
        start = time.perf_counter()
        step(frame)
        times.append(time.perf_counter() - start)
    return times[len(times) // 10:]  # drop warm-up


def scene_mesh(target_faces: int = 100_000):
    """A room-sized mesh: floor and walls plus spheres (furniture stand-ins) up to ~target faces."""
    import trimesh

    parts = [trimesh.creation.box(extents=(6.0, 6.0, 0.1)), trimesh.creation.box(extents=(0.1, 6.0, 2.5))]
    parts[1].apply_translation([3.0, 0.0, 1.25])
    rng = np.random.default_rng(0)
    while sum(len(p.faces) for p in parts) < target_faces:
        sphere = trimesh.creation.icosphere(subdivisions=5, radius=float(rng.uniform(0.2, 0.6)))
        sphere.apply_translation([*rng.uniform(-2.5, 2.5, 2), float(rng.uniform(0.3, 1.5))])
        parts.append(sphere)
    return trimesh.util.concatenate(parts)


def run(frames: int = 2000, model_dir=ASSETS_DIR, voxel_size: float = 0.05, out=sys.stdout) -> dict:
    sys.path.insert(0, str(REPO_ROOT))
    from addon.client import BackendProcess

    rng = np.random.default_rng(0)
    partner = rng.normal(size=(frames, 22, 3)).astype(np.float32)
    results = {}

    local = ZeroWorkSession()
    local_p50, _ = _percentiles(_time_steps(local.step, partner))
    process = BackendProcess.launch(sys.executable, ["--device", "cpu", "--session-factory",
                                                     "inference_backend.bench.server:zero_work"], cwd=str(REPO_ROOT))
    try:
        with process.connect() as client:
            sid = client.open_session("bench")
            remote_p50, remote_p99 = _percentiles(_time_steps(lambda f: client.step(sid, f), partner))
            mesh = scene_mesh()
            start = time.perf_counter()
            client.voxelize(mesh.vertices, mesh.faces, voxel_size)
            first = time.perf_counter() - start
            start = time.perf_counter()
            grid, _, _ = client.voxelize(mesh.vertices, mesh.faces, voxel_size)
            cached = time.perf_counter() - start
    finally:
        process.stop()
    overhead = remote_p50 - local_p50
    results["step_overhead_ms_p50"] = overhead
    results["step_roundtrip_ms"] = (remote_p50, remote_p99)
    results["voxelize_s"] = first
    print(f"step round trip (zero-work session): p50 {remote_p50:.3f} ms, p99 {remote_p99:.3f} ms; "
          f"in-process p50 {local_p50:.4f} ms; overhead p50 {overhead:.3f} ms "
          f"({'ok' if overhead <= STEP_TARGET_MS else 'OVER'} target {STEP_TARGET_MS} ms)", file=out)
    print(f"voxelize {len(mesh.faces)} faces at {voxel_size} m -> {grid.shape} grid, {int(grid.sum())} occupied: "
          f"{first:.3f} s ({'ok' if first <= VOXELIZE_TARGET_S else 'OVER'} target {VOXELIZE_TARGET_S} s), "
          f"cached repeat {cached * 1e3:.1f} ms", file=out)
    results.update(_runtime_overhead(partner[:300], model_dir, out))
    return results


def _runtime_overhead(partner: np.ndarray, model_dir, out) -> dict:
    """The same comparison on the trained model, when its weights are present."""
    from pathlib import Path

    if not (Path(model_dir) / "prior" / "config.json").is_file():
        print(f"real runtime: skipped (no trained prior under {model_dir})", file=out)
        return {}
    from addon.client import BackendProcess
    from inference_backend.runtime.session import ReactionSession, load_runtime

    runtime = load_runtime(model_dir, "cpu")
    history = partner[:2]
    local = ReactionSession("walks towards the partner", seed=0, partner_history=history, runtime=runtime)
    local_p50, _ = _percentiles(_time_steps(local.step, partner))
    process = BackendProcess.launch(sys.executable, ["--device", "cpu", "--model-dir", str(model_dir)],
                                    cwd=str(REPO_ROOT), timeout=300)
    try:
        with process.connect() as client:
            sid = client.open_session("walks towards the partner", seed=0, history=history)
            remote_p50, remote_p99 = _percentiles(_time_steps(lambda f: client.step(sid, f), partner))
    finally:
        process.stop()
    print(f"real runtime step: in-process p50 {local_p50:.2f} ms, through the server p50 {remote_p50:.2f} ms "
          f"(p99 {remote_p99:.2f} ms), difference {remote_p50 - local_p50:.2f} ms", file=out)
    return {"runtime_step_ms": (local_p50, remote_p50)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference_backend.bench.server", description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=2000, help="step calls to time")
    parser.add_argument("--voxel-size", type=float, default=0.05)
    parser.add_argument("--model-dir", default=ASSETS_DIR, help="trained model folder for the end-to-end step timing")
    args = parser.parse_args(argv)
    run(args.frames, args.model_dir, args.voxel_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
