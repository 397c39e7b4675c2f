"""The headless demo: sample shot -> reaction -> keys on a rig -> rendered video.

    python -m inference_backend.demo [--out out] [--intent "..."] [--no-render]

Runs the whole product chain the way a render farm would, on the shipped weights and the shipped
sample shot (CMU take 18_01, held out from training, and a small room):
1. `addon.shot` imports the partner BVH with Blender's BVH importer and the room mesh with the
   add-on's drag-in path, and saves `out/shot.blend`;
2. the add-on's headless command (`blender -b ... -c remogen generate`, here under the `bpy`
   module) starts the backend process, reads the partner's joints, generates the reaction,
   keys it on a new SMPL-X rig, saves `out/demo.blend` and renders `out/demo.mp4` (Workbench).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from .paths import ASSETS_DIR, REPO_ROOT
from .sample_shot import PARTNER_BVH, ROOM_OBJ

DEFAULT_INTENT = "walk up to the partner and shake hands"


def _run(step: str, cmd: list[str]) -> float:
    print(f"demo: {step}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=REPO_ROOT)
    if result.returncode != 0:
        raise SystemExit(f"demo: {step} failed (exit code {result.returncode})")
    return time.perf_counter() - started


def missing_assets() -> list[str]:
    needed = [PARTNER_BVH, ROOM_OBJ, ASSETS_DIR / "skeleton" / "rest_skeleton.json",
              ASSETS_DIR / "prior" / "config.json"]
    return [str(p.relative_to(REPO_ROOT)) for p in needed if not p.exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out", help="output folder (default: %(default)s)")
    parser.add_argument("--intent", default=DEFAULT_INTENT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-render", action="store_true", help="skip the Workbench video")
    args = parser.parse_args(argv)

    missing = missing_assets()
    if missing:
        print("demo: cannot run: shipped files are missing: " + ", ".join(missing), file=sys.stderr)
        return 1
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    shot, result = out / "shot.blend", out / "demo.blend"
    py = sys.executable
    _run("importing the sample shot (partner 18_01 + room)",
         [py, "-m", "addon.shot", str(PARTNER_BVH), str(ROOM_OBJ), str(shot)])
    cmd = [py, "-m", "addon.headless", str(shot), "generate", "--partner", "18_01", "--scene", "room",
           "--intent", args.intent, "--seed", str(args.seed), "--out", str(result),
           "--backend-python", py, "--backend-dir", str(REPO_ROOT), "--model-dir", str(ASSETS_DIR)]
    if not args.no_render:
        cmd += ["--render", str(out / "demo.mp4"), "--still", str(out / "demo.png")]
    seconds = _run("generating the reaction, keying it on a new SMPL-X rig" + ("" if args.no_render else ", rendering"), cmd)
    print(f"demo: done in {seconds:.1f} s: {result}" + ("" if args.no_render else f", {out / 'demo.mp4'}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
