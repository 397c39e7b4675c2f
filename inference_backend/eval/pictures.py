"""`python -m inference_backend.eval.pictures [--cache DIR] [--out docs] [--seed 0] [--seconds 4]`

Pictures of held-out TEST pairs, to judge the reactions by eye next to what really happened:
one PNG per pair, `<out>/pairs_<A>_<B>.png`. Each row is one instant (a pose every 0.5 s);
the left column shows the partner (blue) with the REAL reactor (orange), the right column the
same partner with the GENERATED reactor, with the same axes in both columns (the whole sheet
shares one camera box, so distances and travel compare directly).

The reaction comes from the shipped runtime (`runtime.session.generate`, assets/: prior + HHI
module + FWSR) given the partner's joints and the reactor's own take text as the intent. It
starts from the real reactor's first pose, as the benchmark does, so both columns start equal
and any difference is what the model did.
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import numpy as np

from ..body import BODY_PARENTS, RestSkeleton, canonical_rest
from ..data.motion import Motion
from ..data.show import _draw, _limits, _setup
from ..paths import REPO_ROOT, default_cache_dir

PARTNER, REACTOR = "tab:blue", "tab:orange"
# The handshake, the sidewalk walk (A takes B by the arm) and one salsa take: (partner, reactor).
DEFAULT_PAIRS = (("18_01", "19_01"), ("18_07", "19_07"), ("60_13", "61_13"))


def instants(frames: int, fps: float, every: float = 0.5, seconds: float = 4.0) -> np.ndarray:
    """Frame indices every `every` seconds from 0 up to `seconds` (and within the take)."""
    if frames < 1:
        raise ValueError("instants: a sequence needs at least one frame")
    last = min(frames - 1, int(round(seconds * fps)))
    return np.unique(np.arange(0, last + 1e-9, every * fps).round().astype(int))


def pair_sheet(partner: np.ndarray, real: np.ndarray, generated: np.ndarray, fps: float, out: str | Path,
               title: str = "", every: float = 0.5, seconds: float = 4.0) -> Path:
    """PNG: rows = instants; left partner + real reactor, right partner + generated reactor.
    All three are (T, 22, 3) world joints (Z up, metres) on the same clock."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    seqs = {"partner": partner, "real": real, "generated": generated}
    for name, seq in seqs.items():
        if seq.ndim != 3 or seq.shape[1:] != (22, 3) or not np.isfinite(seq).all():
            raise ValueError(f"pair_sheet: {name} must be finite (T, 22, 3) joints, got shape {seq.shape}")
    n = min(len(s) for s in seqs.values())
    frames = instants(n, fps, every, seconds)
    centre, half, top = _limits([s[frames] for s in seqs.values()])
    height = 3.0 * len(frames) + 0.8
    fig = plt.figure(figsize=(7.0, height))
    for row, f in enumerate(frames):
        for col, (label, reactor) in enumerate((("real", real), ("generated", generated))):
            ax = fig.add_subplot(len(frames), 2, 2 * row + col + 1, projection="3d")
            _draw(ax, partner[f], BODY_PARENTS, PARTNER)
            _draw(ax, reactor[f], BODY_PARENTS, REACTOR)
            _setup(ax, centre, half, top, f"{label}  t={f / fps:.1f}s")
            ax.set_box_aspect((1, 1, top / (2 * half)), zoom=1.25)  # less empty margin than show.py
            for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
                axis.set_major_locator(MaxNLocator(4))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.7 / height))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def react(partner: Motion, reactor: Motion, rest: RestSkeleton, runtime, seed: int = 0,
          seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(partner, real reactor, generated reactor) joints over the first `seconds` of a pair."""
    from ..runtime.session import generate

    n = min(partner.num_frames, reactor.num_frames, int(round(seconds * partner.fps)) + 1)
    p, r = partner.slice(0, n), reactor.slice(0, n)
    out = generate(p.joints(rest), reactor.text, seed=seed, fps=p.fps, runtime=runtime,
                   start={"transl": r.transl[0], "rotations": r.rotations[0]})
    return p.joints(rest), r.joints(rest), out["joints"]


def pair_picture(partner: Motion, reactor: Motion, rest: RestSkeleton, runtime, out_dir: str | Path,
                 seed: int = 0, seconds: float = 4.0) -> Path:
    """Generate the reaction to one pair and write `<out_dir>/pairs_<partner>_<reactor>.png`."""
    joints = react(partner, reactor, rest, runtime, seed, seconds)
    name = f"pairs_{_short(partner.take_id)}_{_short(reactor.take_id)}.png"
    title = "\n".join([f"TEST pair: partner {partner.take_id} (blue), reactor {reactor.take_id} (orange), seed {seed}",
                       *textwrap.wrap(f"intent = the reactor's text: \"{reactor.text}\"", 70),
                       "left: REAL reactor  ·  right: GENERATED reactor"])
    return pair_sheet(*joints, partner.fps, Path(out_dir) / name, title, seconds=seconds)


def _short(take_id: str) -> str:
    return take_id.rsplit("/", 1)[-1]


def pick_pairs(pairs: list[tuple[Motion, Motion]], wanted=DEFAULT_PAIRS) -> list[tuple[Motion, Motion]]:
    """The wanted (partner, reactor) pairs, in order, from `load_pairs` output (either role)."""
    by_ids = {}
    for a, b in pairs:
        by_ids[(_short(a.take_id), _short(b.take_id))] = (a, b)
        by_ids[(_short(b.take_id), _short(a.take_id))] = (b, a)
    missing = [w for w in wanted if tuple(w) not in by_ids]
    if missing:
        raise KeyError(f"pairs not in the TEST split of the cache: {missing}; have {sorted(by_ids)}")
    return [by_ids[tuple(w)] for w in wanted]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference_backend.eval.pictures", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=default_cache_dir())
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args(argv)

    from ..data.dataset import load_pairs
    from ..runtime.session import load_runtime

    pairs = pick_pairs(load_pairs(args.cache, "test"))
    rt = load_runtime()
    rest = canonical_rest()
    for partner, reactor in pairs:
        path = pair_picture(partner, reactor, rest, rt, args.out, args.seed, args.seconds)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
