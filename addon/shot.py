"""Make a shot .blend from a partner BVH and a scene mesh with Blender's own importers (bpy).

Used by the demo and handy on a farm:

    python -m addon.shot partner.bvh room.obj shot.blend [--bvh-scale 0.056444] [--fps 30]

The BVH is imported at the scene's frame rate (Blender's importer rescales time), so a 120 fps
capture lands on 30 fps frames. A first frame that is an added T-pose (CMU's cgspeed files) is
left out of the returned frame range.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

def build_shot(partner_bvh: str, scene_mesh: str | None, out_blend: str, fps: int = 30,
               bvh_scale: float = 0.056444, skip_first_frame: bool = True) -> dict:
    """Import the partner (and scene mesh) into an empty file, save it, return names and range."""
    from .headless import enable_extension, import_bpy

    bpy = import_bpy()
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, 1.0
    path = Path(partner_bvh)
    if not path.is_file():
        raise FileNotFoundError(f"partner BVH not found: {path}")
    result = bpy.ops.import_anim.bvh(filepath=str(path), global_scale=bvh_scale, use_fps_scale=True,
                                     update_scene_fps=False, update_scene_duration=True, axis_forward="-Z", axis_up="Y")
    partner = bpy.context.view_layer.objects.active
    if "FINISHED" not in result or partner is None or partner.type != "ARMATURE":
        raise RuntimeError(f"Blender's BVH importer could not read {path}")
    first, last = partner.animation_data.action.frame_range  # the importer's scene range ignores fps scaling
    start, end = int(round(first)), int(last)
    if skip_first_frame:
        start += 1
    scene.frame_start, scene.frame_end = start, end
    info = {"partner": partner.name, "scene": "", "frame_start": start, "frame_end": end, "fps": fps}
    if scene_mesh:  # the same path as a mesh dropped on the viewport, without voxelizing
        enable_extension()
        before = set(bpy.data.objects)
        if "FINISHED" not in bpy.ops.remogen.import_scene(filepath=str(Path(scene_mesh).resolve()), voxelize=False):
            raise RuntimeError(f"could not import the scene mesh {scene_mesh}")
        info["scene"] = next(o.name for o in bpy.data.objects if o not in before and o.type == "MESH")
    bpy.ops.wm.save_as_mainfile(filepath=str(Path(out_blend).resolve()), check_existing=False)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("partner_bvh")
    parser.add_argument("scene_mesh", nargs="?", default=None)
    parser.add_argument("out_blend")
    parser.add_argument("--bvh-scale", type=float, default=0.056444, help="BVH units to metres (CMU: 0.056444)")
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args(argv)
    print(build_shot(args.partner_bvh, args.scene_mesh, args.out_blend, args.fps, args.bvh_scale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
