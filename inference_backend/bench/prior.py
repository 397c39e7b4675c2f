"""Timing of the motion prior's online segment step (denoise 10 steps + decode 8 frames)."""
from __future__ import annotations

import time

import numpy as np
import torch

from ..models.features import FUTURE, HISTORY
from ..models.prior import PRIOR_DIR, MotionPrior


def _time(fn, repeats: int, sync) -> np.ndarray:
    for _ in range(3):  # warm-up
        fn()
    sync()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t)
    return np.array(out) * 1000.0


def bench_prior(path=None, threads: list[int] = (1, 2), repeats: int = 50) -> list[dict]:
    runs = [("cpu", n) for n in threads] + ([("cuda", 1)] if torch.cuda.is_available() else [])
    rows = []
    for dev, n in runs:
        torch.set_num_threads(n)
        prior = MotionPrior.load(path or PRIOR_DIR, dev)
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        text = torch.randn(1, prior.denoiser.config["text_dim"], device=dev)
        hist = torch.randn(1, HISTORY, prior.vae.config["feature_dim"], device=dev)
        gen = torch.Generator(device=dev).manual_seed(0)
        for guidance, label in ((1.0, "no CFG"), (prior.guidance, f"CFG w={prior.guidance:g}")):
            def segment():
                with torch.inference_mode():
                    z = prior.sample_latent(text, hist, guidance, gen)
                    prior.decode(z, hist)
            ms = _time(segment, repeats, sync)
            rows.append({"device": dev + (f" ({n} thread{'s' * (n > 1)})" if dev == "cpu" else ""), "mode": label,
                         "seg_p50": float(np.median(ms)), "seg_p99": float(np.percentile(ms, 99)),
                         "frame": float(np.median(ms)) / FUTURE})
        def decode():
            with torch.inference_mode():
                prior.decode(torch.zeros(1, prior.latent_dim, device=dev), hist)
        ms = _time(decode, repeats, sync)
        rows.append({"device": rows[-1]["device"], "mode": "decode only", "seg_p50": float(np.median(ms)),
                     "seg_p99": float(np.percentile(ms, 99)), "frame": float(np.median(ms))})
    return rows


def format_table(rows: list[dict]) -> str:
    head = f"{'device':<18} {'mode':<14} {'ms/segment p50':>15} {'p99':>8} {'ms/frame':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['device']:<18} {r['mode']:<14} {r['seg_p50']:>15.2f} {r['seg_p99']:>8.2f} {r['frame']:>9.2f}")
    lines.append(f"(segment = 10 denoiser steps + 1 VAE decode = {FUTURE} frames; "
                 "'decode only' ms/frame = one decode, what per-frame refinement adds)")
    return "\n".join(lines)


def main(argv=None) -> int:
    """`python -m inference_backend.bench prior [--prior DIR] [--threads 1,2] [--repeats N]`

    Times one online segment of the motion prior: the 10-step latent denoising (with and without
    classifier-free guidance, which batches the conditional and unconditional pass) plus one VAE
    decode, i.e. the work behind 8 new frames, per device (CPU at each thread count, and CUDA when
    present). On a shared CPU one thread is usually fastest for these small models.
    """
    import argparse

    ap = argparse.ArgumentParser(prog="python -m inference_backend.bench prior", description=main.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prior", help="prior folder (default assets/prior)")
    ap.add_argument("--threads", default="1,2", help="comma-separated torch CPU thread counts to time (default 1,2)")
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args(argv)
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        ap.error(f"--threads must be comma-separated integers, got {args.threads!r}")
    print(format_table(bench_prior(args.prior, threads, args.repeats)))
    return 0
