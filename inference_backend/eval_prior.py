"""The motion prior's "must show" numbers, on the held-out test split.

    python -m inference_backend.eval_prior [--prior assets/prior] [--cache .cache] \
        [--json docs/prior_metrics.json] [--sheet docs/prior_rollouts.png]

1. VAE reconstruction: MPJPE (FK of the decoded rotations vs the true joints, in the primitive's
   canonical frame, over the F future frames) on every test primitive (stride 2), and the same
   through the decoded joint features.
2. Rollouts: 10 s from the first frames of 20 test takes with their texts, 5 seeds: NaN count,
   pelvis height range, foot-skating ratio (pooled, and per seed), against the same statistics
   of the real test takes.
3. Words: "walk", "run", "jump", "sit down" (several seeds each) must differ the way the words
   say: run faster than walk; sit down lowers the pelvis below walking height and moves slowest;
   jump lifts the pelvis more than walk.

Foot skating: the project's one definition, `inference_backend.eval.physics.foot_skating_ratio`
(GMD's: the share of frame transitions where a foot is near the floor and slides; thresholds in
that module), pooled over sequences by frame count.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .body import JOINT_INDEX, RestSkeleton, forward_kinematics
from .eval.physics import foot_skating_ratio
from .models.features import FPS, HISTORY, PRIMITIVE, extract_primitives, features_to_pose
from .models.prior import PRIOR_DIR, MotionPrior, prior_hash
from .paths import REPO_ROOT, default_cache_dir
from .rollout import rollout, start_from_motion

FEET = [JOINT_INDEX[n] for n in ("left_foot", "right_foot", "left_ankle", "right_ankle")]
WORDS = ("walk", "run", "jump", "sit down")


# ----------------------------------------------------------------------------- statistics
def foot_skating(joints: np.ndarray, fps: float = FPS) -> tuple[float, int]:
    """(skating transitions, transitions) of one (T, 22, 3) sequence."""
    transitions = max(len(joints) - 1, 0)
    return foot_skating_ratio(joints, fps) * transitions, transitions


def motion_stats(joints: np.ndarray, transl: np.ndarray, fps: float = FPS) -> dict:
    """Root speed, pelvis height (above the sequence's floor) and skating of one sequence."""
    floor = np.percentile(joints[:, FEET, 2].min(1), 2)
    height = transl[:, 2] - floor
    speed = np.linalg.norm(np.diff(transl[:, :2], axis=0), axis=-1) * fps
    skate, contact = foot_skating(joints, fps)
    return {"speed_mps": float(speed.mean()), "pelvis_mean": float(height.mean()),
            "pelvis_min": float(height.min()), "pelvis_max": float(height.max()),
            "pelvis_range": float(height.max() - height.min()), "skate": skate, "contact": contact}


def _summary(rows: list[dict]) -> dict:
    skate, contact = sum(r["skate"] for r in rows), sum(r["contact"] for r in rows)
    return {"sequences": len(rows),
            "speed_mps": float(np.mean([r["speed_mps"] for r in rows])),
            "pelvis_min": float(min(r["pelvis_min"] for r in rows)),
            "pelvis_max": float(max(r["pelvis_max"] for r in rows)),
            "pelvis_mean": float(np.mean([r["pelvis_mean"] for r in rows])),
            "skating_ratio": skate / max(contact, 1)}


# ----------------------------------------------------------------------------- 1. VAE
@torch.no_grad()
def vae_reconstruction(prior: MotionPrior, motions, stride: int = 2) -> dict:
    rest = _rest(prior)
    errs_fk, errs_feat = [], []
    for m in motions:
        if m.num_frames < 1 + PRIMITIVE:
            continue
        feats, _ = extract_primitives(m, rest, stride)
        x = prior.normalizer.normalize(feats.to(prior.device))
        hist, fut = x[:, :HISTORY], x[:, HISTORY:]
        mu, _ = prior.vae.encode(hist, fut)
        pred = prior.normalizer.denormalize(prior.vae.decode(mu, hist))
        t, r, j = features_to_pose(pred)
        fk = forward_kinematics(r, prior.offsets, t)[1]
        _, _, gt = features_to_pose(feats[:, HISTORY:].to(prior.device))
        errs_fk.append(torch.linalg.norm(fk - gt, dim=-1).mean((1, 2)).cpu())
        errs_feat.append(torch.linalg.norm(j - gt, dim=-1).mean((1, 2)).cpu())
    fk, ft = torch.cat(errs_fk), torch.cat(errs_feat)
    return {"primitives": int(fk.numel()), "mpjpe_cm": float(fk.mean() * 100),
            "mpjpe_cm_p95": float(fk.quantile(0.95) * 100), "mpjpe_joint_features_cm": float(ft.mean() * 100)}


# ----------------------------------------------------------------------------- 2. rollouts
def test_rollouts(prior: MotionPrior, motions, count: int = 20, seconds: float = 10.0, seeds: int = 5):
    """Rollouts from the first frames of `count` test takes with their texts, once per seed
    (0 .. seeds-1): one seed's 20 sequences are too few for a stable skating ratio (it moves by
    +-0.1x of the real one between seeds), so the statistics pool every seed and the per-seed
    ratios are kept to show the spread."""
    takes = [m for m in motions if m.num_frames >= 1 + HISTORY and m.text][:count]
    starts = [start_from_motion(m.transl[:1 + HISTORY], m.rotations[:1 + HISTORY]) for m in takes]
    start = (torch.stack([s[0] for s in starts]), torch.stack([s[1] for s in starts]))
    real = [motion_stats(m.joints(_rest(prior)), m.transl) for m in takes]
    real_ratio = _summary(real)["skating_ratio"]
    gen, per_seed, nan, elapsed, outs = [], [], 0, 0.0, []
    for seed in range(seeds):
        t0 = time.perf_counter()
        outs.append(rollout(prior, [m.text for m in takes], seconds, seed=seed, start=start))
        elapsed += time.perf_counter() - t0
        rows = [motion_stats(j, t) for j, t in zip(outs[-1].joints, outs[-1].transl)]
        per_seed.append(_summary(rows)["skating_ratio"] / max(real_ratio, 1e-9))
        nan += int(sum(not np.isfinite(j).all() for j in outs[-1].joints))
        gen += rows
    per_text = [{"text": m.text, **g, "real_speed_mps": r["speed_mps"]} for m, g, r in zip(takes, gen, real)]
    return {"texts": [m.text for m in takes], "seconds": seconds, "seeds": seeds, "nan_sequences": nan,
            "generated": _summary(gen), "real_test": _summary(real),
            "skating_vs_real_per_seed": per_seed,
            "wall_s_per_seed": elapsed / seeds, "per_text": per_text}, outs[0]


def _rest(prior: MotionPrior):
    """A RestSkeleton carrying the prior's own body offsets (what its features were made with)."""
    rest = RestSkeleton(np.zeros((55, 3)))
    rest.offsets[:22] = prior.offsets.cpu().numpy()
    return rest


# ----------------------------------------------------------------------------- 3. words
def word_checks(prior: MotionPrior, seeds: int = 4, seconds: float = 6.0) -> dict:
    prompts = [w for w in WORDS for _ in range(seeds)]
    out = rollout(prior, prompts, seconds, seed=0)
    per = {}
    for w in WORDS:
        rows = [motion_stats(out.joints[i], out.transl[i]) for i, p in enumerate(prompts) if p == w]
        per[w] = {k: float(np.mean([r[k] for r in rows])) for k in ("speed_mps", "pelvis_mean", "pelvis_min",
                                                                     "pelvis_range")}
    checks = {
        "run faster than walk": per["run"]["speed_mps"] > per["walk"]["speed_mps"],
        "sit down lowers the pelvis below walk": per["sit down"]["pelvis_min"] < per["walk"]["pelvis_min"] - 0.1,
        "sit down slower than walk": per["sit down"]["speed_mps"] < per["walk"]["speed_mps"],
        "jump moves the pelvis up/down more than walk": per["jump"]["pelvis_range"] > per["walk"]["pelvis_range"],
    }
    # the same "walk" from the bare rest pose (identity rotations, arms lowered): why starts use the standing pose
    bare = rollout(dataclasses.replace(prior, standing=None), ["walk"] * seeds, seconds, seed=0)
    bare_speed = float(np.mean([motion_stats(j, t)["speed_mps"] for j, t in zip(bare.joints, bare.transl)]))
    return {"seeds": seeds, "seconds": seconds, "per_word": per, "walk_from_bare_rest_speed_mps": bare_speed,
            "checks": {k: bool(v) for k, v in checks.items()}}, out, prompts


# ----------------------------------------------------------------------------- contact sheet
def contact_sheet(joints: np.ndarray, titles: list[str], path: Path, every: int = 15) -> None:
    """Stick figures every `every` frames (colour = time) for several rollouts, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .generate import draw_skeleton

    n = len(titles)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig = plt.figure(figsize=(4.2 * cols, 4.2 * rows))
    cmap = plt.get_cmap("viridis")
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1, projection="3d")
        seq = joints[i]
        frames = list(range(0, len(seq), every))
        for k, f in enumerate(frames):
            draw_skeleton(ax, seq[f], color=cmap(k / max(1, len(frames) - 1)), lw=1.0)
        ax.plot(seq[:, 0, 0], seq[:, 0, 1], 0 * seq[:, 0, 2], "k-", lw=0.6)
        lo, hi = seq.reshape(-1, 3).min(0) - 0.3, seq.reshape(-1, 3).max(0) + 0.3
        span = np.maximum(hi - lo, 0.5)
        ax.set_xlim(lo[0], lo[0] + span[0])
        ax.set_ylim(lo[1], lo[1] + span[1])
        ax.set_zlim(0, 2.0)
        ax.set_box_aspect((span[0], span[1], 2.0))  # metres look like metres on every axis
        ax.set_title(titles[i][:40], fontsize=9)
        ax.tick_params(labelsize=6)
        ax.view_init(elev=20, azim=-60)
    fig.suptitle(f"prior rollouts: a pose every {every / FPS:.1f} s (dark = early, yellow = late)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference_backend.eval_prior", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prior", type=Path, default=PRIOR_DIR)
    ap.add_argument("--cache", type=Path, default=default_cache_dir())
    ap.add_argument("--json", type=Path, default=REPO_ROOT / "docs" / "prior_metrics.json")
    ap.add_argument("--sheet", type=Path, default=REPO_ROOT / "docs" / "prior_rollouts.png")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from .data.dataset import load_motions

    prior = MotionPrior.load(args.prior)
    test = load_motions(args.cache, "test")
    result = {"prior_hash": prior_hash(args.prior), "test_takes": len(test)}
    result["vae"] = vae_reconstruction(prior, test)
    print(f"VAE test MPJPE {result['vae']['mpjpe_cm']:.2f} cm over {result['vae']['primitives']} primitives")
    result["rollouts"], roll = test_rollouts(prior, test)
    g, r = result["rollouts"]["generated"], result["rollouts"]["real_test"]
    seeds = result["rollouts"]["skating_vs_real_per_seed"]
    print(f"rollouts ({len(seeds)} seeds): NaN {result['rollouts']['nan_sequences']}, pelvis "
          f"{g['pelvis_min']:.2f}..{g['pelvis_max']:.2f} m (real {r['pelvis_min']:.2f}..{r['pelvis_max']:.2f}), "
          f"skating {g['skating_ratio']:.3f} (real {r['skating_ratio']:.3f}, "
          f"{g['skating_ratio'] / r['skating_ratio']:.2f}x; per seed {min(seeds):.2f}..{max(seeds):.2f}x)")
    result["words"], words, prompts = word_checks(prior)
    for w, v in result["words"]["per_word"].items():
        print(f"  {w:<9} speed {v['speed_mps']:.2f} m/s  pelvis mean {v['pelvis_mean']:.2f} min {v['pelvis_min']:.2f} "
              f"range {v['pelvis_range']:.2f}")
    print(f"  walk from the bare rest pose: speed {result['words']['walk_from_bare_rest_speed_mps']:.2f} m/s")
    for k, ok in result["words"]["checks"].items():
        print(f"  [{'pass' if ok else 'FAIL'}] {k}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    pick = [0, 4, 8, 12]  # one seed of each word
    n = min(words.joints.shape[1], roll.joints.shape[1])
    sheet = np.concatenate([words.joints[pick, :n], roll.joints[:4, :n]])
    titles = [prompts[i] for i in pick] + [f"test: {t}" for t in result["rollouts"]["texts"][:4]]
    contact_sheet(sheet, titles, args.sheet)
    print(f"wrote {args.json} and {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
