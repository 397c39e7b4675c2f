"""Render benchmark sections as Markdown tables and PNG plots (matplotlib, headless)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .benchmark import Table, Unavailable


def _fmt(mean: float, ci: float) -> str:
    if not math.isfinite(mean):
        return "–"
    digits = 3 if abs(mean) < 10 else 1
    text = f"{mean:.{digits}f}"
    return text + (f" ± {ci:.{digits}f}" if math.isfinite(ci) and round(ci, digits) > 0 else "")


def table_markdown(section: Table | Unavailable) -> str:
    if isinstance(section, Unavailable):
        return f"### {section.title}\n\n{section.reason}\n"
    lines = [f"### {section.title}", "", "| | " + " | ".join(h for _, h in section.columns) + " |",
             "|---|" + "---|" * len(section.columns)]
    for name, values in section.rows:
        cells = [_fmt(*values[k]) if k in values else "–" for k, _ in section.columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [""] + [f"{n}  " for n in section.notes]
    return "\n".join(lines) + "\n"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_t2m(table: Table, path: Path) -> None:
    """FID and R-precision top-3 per row."""
    plt = _plt()
    names = [n for n, _ in table.rows]
    fid = np.array([v["fid"][0] for _, v in table.rows])
    fid_ci = np.array([v["fid"][1] for _, v in table.rows])
    r3 = np.array([v["r3"][0] for _, v in table.rows])
    r3_ci = np.array([v["r3"][1] for _, v in table.rows])
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * len(names) + 1.8))
    y = np.arange(len(names))
    axes[0].barh(y, fid, xerr=fid_ci, color="tab:red")
    axes[0].set_xlabel("FID vs train windows")
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    axes[1].barh(y, r3, xerr=r3_ci, color="tab:blue")
    axes[1].axvline(3 / 32, color="k", ls="--", lw=1, label="chance (3/32)")
    axes[1].set_xlabel("R-precision top-3 (batch 32)")
    axes[1].set_yticks(y, [])
    axes[1].invert_yaxis()
    axes[1].set_xlim(0, 1)
    axes[1].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_distance_profiles(title: str, profiles: dict, fps: float, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for name, d in profiles.items():
        ax.plot(np.arange(len(d)) / fps, d, label=name, lw=2.5 if name.startswith("Real reactor (") else 1.2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pelvis-pelvis distance (m)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_training(history: list[dict], path: Path) -> None:
    plt = _plt()
    steps = [h["step"] for h in history]
    rp = np.array([h["val_r_precision"] for h in history])
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for k in range(rp.shape[1]):
        ax.plot(steps, rp[:, k], label=f"val R@{k + 1}")
    for k in range(rp.shape[1]):
        ax.axhline((k + 1) / 32, color="grey", ls=":", lw=1)
    ax.set_xlabel("training step")
    ax.set_ylabel("R-precision (batch 32)")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
