"""Loss curves of the prior's training stages from their jsonl logs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CURVES = {
    "prior-vae": ["loss", "rec", "joints", "fk_consistency", "delta_consistency", "kl"],
    "prior-denoiser": ["loss", "latent", "rec", "joints", "p_rollout"],
}


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _smooth(y: np.ndarray, n: int = 20) -> np.ndarray:
    if len(y) < n:
        return y
    return np.convolve(y, np.ones(n) / n, mode="valid")


def plot_logs(train_dir: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, stage in zip(axes[:2], CURVES):
        log = train_dir / stage / "log.jsonl"
        ax.set_title(stage)
        if not log.is_file():
            ax.text(0.5, 0.5, "no log", ha="center")
            continue
        rows = read_log(log)
        steps = np.array([r["step"] for r in rows])
        for key in CURVES[stage]:
            if key in rows[0] and key != "p_rollout":
                y = np.array([r[key] for r in rows])
                ys = _smooth(y)
                ax.plot(steps[len(steps) - len(ys):], ys, label=key)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
        if stage == "prior-denoiser" and rows and "p_rollout" in rows[0]:
            tw = ax.twinx()
            tw.plot(steps, [r["p_rollout"] for r in rows], "k--", lw=0.8)
            tw.set_ylim(-0.02, 1.02)
            tw.set_ylabel("p(rollout history), dashed")
    ax = axes[2]
    ax.set_title("VAE train MPJPE (m)")
    log = train_dir / "prior-vae" / "log.jsonl"
    if log.is_file():
        rows = read_log(log)
        ys = _smooth(np.array([r["mpjpe"] for r in rows]))
        ax.plot(np.array([r["step"] for r in rows])[len(rows) - len(ys):], ys)
        ax.set_xlabel("step")
        ax.set_yscale("log")
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
