"""Pictures of a retargeted take, to check by eye that retargeting is right.

A contact sheet (PNG): top row the canonical body (both people for a pair), bottom row the source
skeleton(s) at the same instants and from the same camera. With ffmpeg on the PATH and an `.mp4`
output, a video with the two side by side instead.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..body import BODY_PARENTS, RestSkeleton
from .motion import Motion
from .resample import lerp_frames, sample_times
from .source import SourceMotion

COLOURS = ("tab:blue", "tab:orange")


def _source_at(src: SourceMotion, motion: Motion) -> np.ndarray:
    coords = sample_times(src.num_frames, src.fps, motion.fps)[: motion.num_frames]
    return lerp_frames(src.positions.astype(np.float64), coords)


def _limits(clouds: list[np.ndarray]):
    pts = np.concatenate([c.reshape(-1, 3) for c in clouds])
    lo, hi = pts.min(0), pts.max(0)
    centre, half = (lo + hi) / 2, max((hi - lo)[:2].max() / 2, 1.0)
    return centre, half, max(hi[2], 1.9)


def _draw(ax, joints: np.ndarray, parents, colour, dots=False):
    for j, p in enumerate(parents):
        if p >= 0:
            ax.plot(*zip(joints[p], joints[j]), color=colour, lw=1.0 if dots else 2.0)
    if dots:
        ax.scatter(*joints.T, color=colour, s=4)
    else:
        ax.scatter(*joints[15:16].T, color=colour, s=30)  # the head


def _setup(ax, centre, half, top, title):
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_zlim(0, top)
    ax.set_box_aspect((1, 1, top / (2 * half)))
    ax.view_init(elev=15, azim=-60)
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=5)
    xx, yy = np.meshgrid([centre[0] - half, centre[0] + half], [centre[1] - half, centre[1] + half])
    ax.plot_surface(xx, yy, np.zeros_like(xx), color="0.85", alpha=0.3)


def contact_sheet(motions: list[Motion], sources: list[SourceMotion], rest: RestSkeleton, out: str | Path,
                  columns: int = 6, title: str = "") -> Path:
    """PNG: canonical bodies (top) and source skeletons (bottom) at `columns` instants."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    canon = [m.joints(rest) for m in motions]
    srcs = [_source_at(s, m) for s, m in zip(sources, motions)]
    n = min(len(c) for c in canon)
    frames = np.linspace(0, n - 1, columns).round().astype(int)
    centre, half, top = _limits(canon + srcs)
    fig = plt.figure(figsize=(3 * columns, 6.4))
    for col, f in enumerate(frames):
        t = f / motions[0].fps
        ax = fig.add_subplot(2, columns, col + 1, projection="3d")
        for k, joints in enumerate(canon):
            _draw(ax, joints[f], BODY_PARENTS, COLOURS[k % 2])
        _setup(ax, centre, half, top, f"canonical  t={t:.2f}s")
        ax = fig.add_subplot(2, columns, columns + col + 1, projection="3d")
        for k, (s, pts) in enumerate(zip(sources, srcs)):
            _draw(ax, pts[min(f, len(pts) - 1)], s.parents, COLOURS[k % 2], dots=True)
        _setup(ax, centre, half, top, f"source  t={t:.2f}s")
    fig.suptitle(title or ", ".join(m.take_id for m in motions), fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def video(motions: list[Motion], sources: list[SourceMotion], rest: RestSkeleton, out: str | Path,
          seconds: float | None = None) -> Path:
    """MP4 (needs ffmpeg): canonical bodies (left) and source skeletons (right), in real time."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("writing an .mp4 needs ffmpeg on the PATH (e.g. apt-get install ffmpeg); "
                           "use a .png output for a contact sheet instead")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FFMpegWriter

    canon = [m.joints(rest) for m in motions]
    srcs = [_source_at(s, m) for s, m in zip(sources, motions)]
    n = min(len(c) for c in canon)
    if seconds is not None:
        n = min(n, int(seconds * motions[0].fps))
    centre, half, top = _limits(canon + srcs)
    fig = plt.figure(figsize=(9, 4.5))
    writer = FFMpegWriter(fps=motions[0].fps)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with writer.saving(fig, str(out), dpi=80):
        for f in range(n):
            fig.clf()
            ax = fig.add_subplot(1, 2, 1, projection="3d")
            for k, joints in enumerate(canon):
                _draw(ax, joints[f], BODY_PARENTS, COLOURS[k % 2])
            _setup(ax, centre, half, top, f"canonical  t={f / motions[0].fps:.2f}s")
            ax = fig.add_subplot(1, 2, 2, projection="3d")
            for k, (s, pts) in enumerate(zip(sources, srcs)):
                _draw(ax, pts[min(f, len(pts) - 1)], s.parents, COLOURS[k % 2], dots=True)
            _setup(ax, centre, half, top, "source")
            writer.grab_frame()
    plt.close(fig)
    return out
