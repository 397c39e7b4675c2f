"""Session bench: per-frame latency of `ReactionSession.step` and batch throughput of `generate`.

    python -m inference_backend.bench session [--model-dir assets] [--threads 1] [--frames 300]

Partner: a held-out two-person take from the motion cache (the longest test pair), else a
synthetic walk. Targets (2 CPU cores): step p99 < 33 ms per frame (real time at 30 fps),
batch >= 150 frames/s. Default: one torch intra-op thread — the session's worker thread uses the
second core, and for these small per-frame tensors intra-op threads mostly spin (on a shared
machine, 2 threads made p99 tens of times worse). Rows:

* step, default: the next segment's diffusion spread over the current one's frames, on a worker
  thread; frames arrive paced at 30 fps, as in Live Preview (the worker uses the time between
  frames). The p99 target applies to this row;
* step, pipelined inline (paced): the same steps run inside `step`;
* step, not pipelined (paced): the whole 10-step diffusion on the frame that starts a segment;
* back to back: the default with frames sent as fast as possible (no idle time for the worker);
* no FWSR / sliding window every frame: the ablation variants, for their ms/frame;
* generate, batch B: whole shot, B sequences at once, frames/s = B x frames / wall time.
The first step of a session (the first segment's diffusion, with nothing to pipeline yet) is
reported apart, as "first frame".
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from ..paths import ASSETS_DIR, default_cache_dir

STEP_P99_TARGET_MS = 33.0
BATCH_TARGET_FPS = 150.0


def bench_partner(frames: int, cache=None) -> tuple[np.ndarray, str]:
    """(frames, 22, 3) partner joints and where they come from."""
    from ..body import canonical_rest

    rest = canonical_rest()
    try:
        from ..data.dataset import load_pairs

        pairs = load_pairs(cache or default_cache_dir(), "test")
    except (FileNotFoundError, ImportError, KeyError):
        pairs = []
    if pairs:
        a, b = max(pairs, key=lambda p: p[0].num_frames)
        joints = a.joints(rest)
        if len(joints) >= frames:
            return joints[:frames], f"test take {a.take_id} ({a.text})"
    from ..train.synthetic import synthetic_motion

    return synthetic_motion(0, seconds=frames / 30 + 0.1).joints(rest)[:frames], "synthetic walk"


def time_steps(runtime, partner, paced: bool = False, **session_args) -> np.ndarray:
    """ms per `step`; paced: frame i is sent at i / 30 s (never earlier), like a live stream."""
    from ..runtime.session import ReactionSession

    s = ReactionSession("shakes hands with the partner", runtime=runtime, **session_args)
    out = []
    t0 = time.perf_counter()
    for i, frame in enumerate(partner):
        if paced:
            wait = t0 + i / 30.0 - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        t = time.perf_counter()
        s.step(frame)
        out.append(time.perf_counter() - t)
    s.close()
    return np.array(out) * 1000.0


def time_batch(runtime, partner, batch: int, **kwargs) -> float:
    from ..runtime.batch import Request, generate_batch

    reqs = [Request(partner, "shakes hands with the partner", seed=i) for i in range(batch)]
    t = time.perf_counter()
    generate_batch(reqs, runtime, **kwargs)
    return batch * len(partner) / (time.perf_counter() - t)


def run(model_dir=ASSETS_DIR, threads: int = 1, frames: int = 300, device: str = "cpu") -> list[str]:
    from ..runtime.model import load_runtime

    torch.set_num_threads(threads)
    rt = load_runtime(model_dir, device)
    partner, source = bench_partner(frames)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [f"device {device}, {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs, "
             f"load average {load:.1f}; {rt.describe()}",
             f"partner: {source}, {len(partner)} frames at 30 fps", ""]
    time_steps(rt, partner[:20])  # warm-up (and the text encoder loads here)
    head = f"{'variant':<44} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'first ms':>9} {'mean ms':>8}"
    lines += [head, "-" * len(head)]
    results = {}
    default = "step, default (worker thread), paced 30 fps"
    variants = [(default, {"paced": True}),
                ("step, pipelined inline, paced 30 fps", {"paced": True, "background": False}),
                ("step, not pipelined, paced 30 fps", {"paced": True, "pipeline": False}),
                ("step, default, back to back", {})]
    if rt.refiner is not None:
        variants.append(("step, no FWSR (segment decoded once), paced", {"paced": True, "refine": False}))
    variants.append(("step, sliding window every frame, b2b", {"segment_frames": 1, "refine": False}))
    for name, kwargs in variants:
        ms = time_steps(rt, partner, **kwargs)
        rest = ms[1:]
        results[name] = rest
        lines.append(f"{name:<44} {np.median(rest):>8.2f} {np.percentile(rest, 99):>8.2f} {rest.max():>8.2f} "
                     f"{ms[0]:>9.2f} {rest.mean():>8.2f}")
    lines.append("")
    for batch in (1, 8):
        fps = time_batch(rt, partner, batch)
        lines.append(f"generate, batch {batch}: {fps:8.1f} frames/s")
        results[f"batch{batch}"] = fps
    p99 = float(np.percentile(results[default], 99))
    best = max(results["batch1"], results["batch8"])
    lines += ["", f"targets: step p99 {p99:.1f} ms < {STEP_P99_TARGET_MS:g} ms: "
                  f"{'met' if p99 < STEP_P99_TARGET_MS else 'NOT met'}; batch {best:.0f} frames/s >= "
                  f"{BATCH_TARGET_FPS:g}: {'met' if best >= BATCH_TARGET_FPS else 'NOT met'}"]
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference_backend.bench session", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default=str(ASSETS_DIR), help="folder with prior/ and modules/ (default assets)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--frames", type=int, default=300, help="partner frames per timed run (default 300)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args(argv)
    print("\n".join(run(args.model_dir, args.threads, args.frames, args.device)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
