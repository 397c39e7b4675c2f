"""`python -m inference_backend.bench prior [--prior DIR] [--threads N] [--repeats N]`

Times one online segment of the motion prior: the 10-step latent denoising (with and without
classifier-free guidance, which batches the conditional and unconditional pass) plus one VAE
decode, i.e. the work behind 8 new frames. Prints a table per device (CPU at each thread count, and CUDA when present). On a shared CPU,
one thread is usually fastest for these small models: intra-op threads wait on each other.
"""
from __future__ import annotations

import argparse
import sys

from .prior import bench_prior, format_table


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["session"]:  # ReactionSession latency and batch throughput (bench/session.py)
        from .session import main as session_main

        return session_main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m inference_backend.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("target", choices=["prior"])
    ap.add_argument("--prior", help="prior folder (default assets/prior)")
    ap.add_argument("--threads", default="1,2",
                    help="comma-separated torch CPU thread counts to time (default 1,2)")
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args(argv)
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        ap.error(f"--threads must be comma-separated integers, got {args.threads!r}")
    rows = bench_prior(args.prior, threads, args.repeats)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
