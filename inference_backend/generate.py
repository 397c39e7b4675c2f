"""Text to motion from the command line, with the shipped motion prior.

    python -m inference_backend.generate --text "walk forward then turn left" --seconds 8 \
        --out walk.npz [--seed 0] [--guidance 2.5] [--video walk.gif|walk.mp4]

The .npz (no pickle) holds SMPL-X-style parameters, Z up, metres, 30 fps:
    transl        (T, 3)      pelvis joint world position  -- see the note below
    global_orient (T, 3)      axis-angle of the pelvis (root) rotation
    body_pose     (T, 21, 3)  axis-angle local rotations of the 21 body joints after the pelvis,
                              SMPL-X order (reshape to (T, 63) for smplx's `body_pose`)
    joints        (T, 22, 3)  world joint positions on the prior's rest skeleton
    fps, text, seed, joint_names

Note on `transl`: ours is the *pelvis position*. SMPL-X's `transl` is added to a body whose
pelvis already sits at J0(betas) (the shaped model's rest pelvis joint), and `global_orient`
rotates about that joint, so for a SMPL-X model (in the same Z-up frame):
    transl_smplx = transl - J0(betas)
(J0 for the neutral model with betas=0 is about (0.003, -0.012, -0.351) in our Z-up frame,
i.e. (0.003, -0.351, 0.012) in SMPL-X's native Y-up frame; compute it from the user's model file.)
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

from .body import BODY_JOINT_NAMES, BODY_PARENTS
from .body.rotations import matrix_to_axis_angle


def smplx_params(transl: np.ndarray, rotations: np.ndarray) -> dict[str, np.ndarray]:
    """(T, 3), (T, 22, 3, 3) -> transl, global_orient (T, 3), body_pose (T, 21, 3)."""
    aa = matrix_to_axis_angle(rotations.astype(np.float64)).astype(np.float32)
    return {"transl": transl.astype(np.float32), "global_orient": aa[:, 0], "body_pose": aa[:, 1:]}


def draw_skeleton(ax, joints: np.ndarray, color="C0", lw=1.5) -> None:
    """Stick figure of (22, 3) joints on a 3D matplotlib axis."""
    for j, p in enumerate(BODY_PARENTS):
        if p >= 0:
            ax.plot(*zip(joints[p], joints[j]), color=color, lw=lw)


def save_video(joints: np.ndarray, path: str | Path, fps: float = 30, title: str = "") -> None:
    """Render (T, 22, 3) joints to .gif (Pillow) or .mp4 (needs ffmpeg on PATH)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import animation

    path = Path(path)
    if path.suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise SystemExit(f"--video {path}: writing .mp4 needs ffmpeg on PATH; use a .gif name instead")
    if path.suffix not in (".mp4", ".gif"):
        raise SystemExit(f"--video {path}: use a .mp4 or .gif file name")
    fig = plt.figure(figsize=(5, 5))
    ax = fig.add_subplot(projection="3d")
    lo, hi = joints.reshape(-1, 3).min(0), joints.reshape(-1, 3).max(0)
    centre, half = (lo + hi) / 2, max(float((hi - lo)[:2].max()) / 2, 1.0)

    def frame(i):
        ax.cla()
        draw_skeleton(ax, joints[i])
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_zlim(0, 2 * half)
        ax.set_title(f"{title}  {i / fps:.1f}s", fontsize=8)

    writer = animation.FFMpegWriter(fps=fps) if path.suffix == ".mp4" else animation.PillowWriter(fps=fps)
    animation.FuncAnimation(fig, frame, frames=len(joints)).save(str(path), writer=writer)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference_backend.generate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", required=True, help="what the character does")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--out", type=Path, required=True, help="output .npz")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--guidance", type=float, help="classifier-free guidance weight (default: the prior's)")
    ap.add_argument("--prior", type=Path, help="prior folder (default assets/prior)")
    ap.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: fastest for this small model on a busy CPU)")
    ap.add_argument("--video", type=Path, help="also render a stick-figure video (.gif, or .mp4 with ffmpeg)")
    args = ap.parse_args(argv)
    if not 0 < args.seconds <= 600:
        ap.error(f"--seconds must be in (0, 600], got {args.seconds}")
    if args.out.suffix != ".npz":
        ap.error(f"--out must be a .npz file, got {args.out}")
    import torch

    from .models.prior import PRIOR_DIR, MotionPrior
    from .rollout import rollout

    torch.set_num_threads(max(1, args.threads))
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    prior = MotionPrior.load(args.prior or PRIOR_DIR, device)
    result = rollout(prior, [args.text], args.seconds, seed=args.seed, guidance=args.guidance)
    params = smplx_params(result.transl[0], result.rotations[0])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **params, joints=result.joints[0].astype(np.float32), fps=np.float32(result.fps),
             text=np.array(args.text), seed=np.int64(args.seed), joint_names=np.array(BODY_JOINT_NAMES))
    print(f"wrote {args.out}: {len(params['transl'])} frames at {result.fps:g} fps")
    if args.video:
        save_video(result.joints[0], args.video, result.fps, args.text)
        print(f"wrote {args.video}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
