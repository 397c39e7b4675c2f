"""Builds the shipped sample shot in `assets/sample/`: a held-out CMU partner take and a room.

The demo and the product never read the shared data folder at run time; this script is how the
shipped copy was made (`python -m inference_backend.sample_shot [--data DIR]`).
Partner: CMU take 18_01 ("walk, shake hands", subject A; test split). Its real partner 19_01 is
shipped too, so generated reactions can be compared with the real one.
"""
from __future__ import annotations

import argparse
import tarfile
from pathlib import Path

import numpy as np
import trimesh

from .paths import ASSETS_DIR, default_data_dir

SAMPLE_DIR = ASSETS_DIR / "sample"
PARTNER_BVH = SAMPLE_DIR / "18_01.bvh"
REAL_REACTOR_BVH = SAMPLE_DIR / "19_01.bvh"
ROOM_OBJ = SAMPLE_DIR / "room.obj"
PAIRS_TARBALL = Path("cmu") / "cmu_pairs_18-23_verified.tar.xz"

ATTRIBUTION = """# Sample shot

- `18_01.bvh`, `19_01.bvh`: CMU Graphics Lab Motion Capture Database, subjects 18 and 19, trial 1
  ("walk, shake hands", two subjects), cgspeed MotionBuilder-friendly BVH conversion by
  B. Hahne; 120 fps, frame 0 is an added T-pose, Y up, units x 0.056444 = metres. Held out from
  training (test split). "The data used in this project was obtained from mocap.cs.cmu.edu.
  The database was created with funding from NSF EIA-0196217." CMU: free for all uses; the data
  may not be resold as data.
- `room.obj`: a simple room (floor, table, crate, bench) made by
  `python -m inference_backend.sample_shot`, Y up as OBJ files usually are, metres, placed clear of the partner's path.
"""


def make_room() -> trimesh.Trimesh:
    """Floor plus a few pieces of furniture, away from the handshake walkway (x in 0..1 m)."""
    def box(size, centre):
        mesh = trimesh.creation.box(extents=size)
        mesh.apply_translation(centre)
        return mesh

    parts = [
        box((6.0, 6.0, 0.04), (0.5, 0.0, -0.02)),     # floor slab, top at z = 0
        box((1.2, 0.7, 0.75), (-1.5, 0.2, 0.375)),    # table
        box((0.6, 0.6, 0.6), (2.4, -1.2, 0.30)),      # crate
        box((0.45, 1.4, 0.45), (-1.5, 1.4, 0.225)),   # bench
    ]
    return trimesh.util.concatenate(parts)


def build(data_dir: Path) -> None:
    tarball = data_dir / PAIRS_TARBALL
    if not tarball.is_file():
        raise SystemExit(f"{tarball} not found: pass --data with the folder holding cmu/")
    SAMPLE_DIR.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tar:
        for target in (PARTNER_BVH, REAL_REACTOR_BVH):
            member = tar.extractfile(f"pairs/{target.name}")
            target.write_bytes(member.read())
    room = make_room()
    y_up = room.copy()  # OBJ files are Y-up by convention; Blender's importer turns them Z-up
    y_up.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    y_up.export(ROOM_OBJ)
    (SAMPLE_DIR / "README.md").write_text(ATTRIBUTION)
    print(f"wrote {PARTNER_BVH.name}, {REAL_REACTOR_BVH.name}, {ROOM_OBJ.name} "
          f"({len(room.faces)} faces, bounds {np.round(room.bounds, 2).tolist()}) to {SAMPLE_DIR}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="data folder (default: %(default)s)")
    build(parser.parse_args().data)


if __name__ == "__main__":
    main()
