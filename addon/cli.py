"""The headless command: `blender -b shot.blend -c remogen generate ...` (or, under the bpy
module, `python -m addon.headless shot.blend generate ...`).

    generate --partner ARMATURE --intent TEXT [--scene MESH ...] [--frames 1-240]
             [--target ARMATURE [--target-map AUTO]] --out out.blend [--render out.mp4]
             [--backend-python PATH] [--backend-dir DIR] [--device auto|cpu|cuda]
             [--smplx-model SMPLX_NEUTRAL.npz]

Backend calls are synchronous (timers and modal operators never run in background mode).
`run_cli(argv) -> int` is a plain function: 0 on success, 1 on a failure with a one-line
message on stderr, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import re
import sys
import time

from .rig.skeleton import RestSkeletonError


class CliError(Exception):
    pass


def parse_frames(text: str) -> tuple[int, int]:
    """'1-240' -> (1, 240); '12' -> (12, 12)."""
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"--frames must look like START-END, got {text!r}")
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) is not None else start
    if end < start:
        raise argparse.ArgumentTypeError(f"--frames {text!r}: the end comes before the start")
    return start, end


def parse_weights(text: str) -> dict:
    """'hhi=1,hsi=0.5' -> {'hhi': 1.0, 'hsi': 0.5}."""
    out = {}
    for part in filter(None, text.split(",")):
        key, sep, value = part.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--weights must look like hhi=1,hsi=0.5, got {text!r}") from None
        if not sep:
            raise argparse.ArgumentTypeError(f"--weights must look like hhi=1,hsi=0.5, got {text!r}")
    return out


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # no SystemExit inside Blender: raise, run_cli turns it into 2
        raise CliError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="remogen", description="ReMoGen reaction generation (headless)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    gen = sub.add_parser("generate", help="generate a reaction to a partner armature and save the file")
    gen.add_argument("--partner", required=True, help="name of the partner's armature object")
    gen.add_argument("--intent", required=True, help='what the reacting character does, e.g. "shakes hands"')
    gen.add_argument("--scene", action="append", default=[], help="name of a scene mesh object (repeatable)")
    gen.add_argument("--frames", type=parse_frames, help="START-END (default: the scene's frame range)")
    gen.add_argument("--weights", type=parse_weights, default={"hhi": 1.0, "hsi": 1.0},
                     help="module weights, e.g. hhi=1,hsi=0.5")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--partner-map", default="AUTO", help="bone map of the partner (AUTO, MIXAMO, CMU_BVH, ...)")
    gen.add_argument("--target", default="", help="existing armature to bake onto (default: create an SMPL-X rig)")
    gen.add_argument("--target-map", default="AUTO", help="bone map of --target")
    gen.add_argument("--replace", action="store_true", help="write into the target's current action")
    gen.add_argument("--voxel-size", type=float, default=0.1, help="scene voxel size in metres")
    gen.add_argument("--rest-skeleton", default="", help="rest_skeleton.json (default: shipped one)")
    gen.add_argument("--smplx-model", default=None,
                     help="your SMPLX_NEUTRAL.npz: the created rig gets its exact skeleton and skinned body "
                          "(default: the add-on preference; '' for none)")
    gen.add_argument("--out", required=True, help="where to save the .blend with the reaction")
    gen.add_argument("--render", default="", help="also render the frame range with Workbench to this .mp4")
    gen.add_argument("--still", default="", help="with --render: also save the middle frame as this PNG")
    gen.add_argument("--resolution", default="640x360", help="render size WxH")
    gen.add_argument("--backend-python", default="", help="interpreter with torch that runs the backend")
    gen.add_argument("--backend-dir", default="", help="folder containing the inference_backend package")
    gen.add_argument("--device", choices=("auto", "cpu", "cuda"), default="")
    gen.add_argument("--model-dir", default="", help="weights folder for the backend")
    gen.add_argument("--backend-arg", action="append", default=[], help="extra argument for the backend server")
    return parser


def run_cli(argv) -> int:
    try:
        args = build_parser().parse_args(list(argv))
    except CliError as exc:
        print(f"remogen: error: {exc}", file=sys.stderr)
        return 2
    try:
        return _generate(args)
    except CliError as exc:
        print(f"remogen: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # one clear line, never a traceback, for anything the user can fix
        from .client import BackendDied, BackendError, BackendStartError
        from .generate import GenerateError
        from .rig.bake import BakeError
        from .rig.body_mesh import BodyMeshError
        from .rig.keys import ReactionFormatError
        from .rig.read_partner import PartnerError

        known = (BackendDied, BackendError, BackendStartError, GenerateError, BakeError, BodyMeshError, ReactionFormatError,
                 PartnerError, RestSkeletonError, OSError)
        if isinstance(exc, known):
            print(f"remogen: error: {exc}", file=sys.stderr)
            return 1
        raise


def _preferences(bpy):
    addon = bpy.context.preferences.addons.get(__package__)
    return getattr(addon, "preferences", None)


def _bundled_backend() -> str:
    from .preferences import bundled_backend_dir

    return bundled_backend_dir()


def _backend_config(args, prefs):
    from .backend import BackendConfig

    return BackendConfig(
        python=args.backend_python or getattr(prefs, "backend_python", ""),
        backend_dir=args.backend_dir or getattr(prefs, "backend_dir", "") or _bundled_backend(),
        device=args.device or getattr(prefs, "device", "") or "auto",
        model_dir=args.model_dir or getattr(prefs, "model_dir", ""),
        extra_args=list(args.backend_arg),
    )


def _smplx_model(bpy, args, prefs) -> str:
    if args.smplx_model is not None:
        return args.smplx_model
    path = getattr(prefs, "smplx_model", "")
    return bpy.path.abspath(path) if path else ""


def _generate(args) -> int:
    import bpy

    from . import generate
    from .backend import start_backend
    from .rig.skeleton import find_rest_skeleton

    context = bpy.context
    scene = context.scene
    start, end = args.frames or (scene.frame_start, scene.frame_end)
    config = _backend_config(args, _preferences(bpy))
    rest_path = find_rest_skeleton(args.rest_skeleton or None, config.model_dir or None, config.resolved_backend_dir() or None)
    request = generate.Request(
        partner=args.partner, intent=args.intent, frame_start=start, frame_end=end, scene_objects=list(args.scene),
        weights=args.weights, seed=args.seed, partner_map=args.partner_map, target=args.target,
        target_map=args.target_map, rest_skeleton=str(rest_path), voxel_size=args.voxel_size, replace=args.replace,
        smplx_model=_smplx_model(bpy, args, _preferences(bpy)),
    )
    prepared = generate.prepare(context, request)
    print(f"remogen: partner {args.partner!r}: {len(prepared.partner)} frames at {prepared.fps:g} fps", flush=True)
    process, client = start_backend(config)
    try:
        info = client.server_info
        print(f"remogen: backend ready on {info.get('device', '?')}", flush=True)
        last = [-1]

        def progress(done, total):
            percent = int(100 * done / max(total, 1))
            if percent >= last[0] + 10 or done == total:
                last[0] = percent
                print(f"remogen: generating {done}/{total}", flush=True)

        started = time.perf_counter()
        reaction = generate.call_backend(client, prepared, on_progress=progress)
        seconds = time.perf_counter() - started
        frames = len(prepared.partner)
        print(f"remogen: generated {frames} frames in {seconds:.2f} s ({1000 * seconds / max(frames, 1):.1f} ms/frame "
              f"including transfer) on {info.get('device', '?')}", flush=True)
    finally:
        try:
            client.shutdown()
        except Exception:
            pass
        client.close()
        process.stop()
    obj, action = generate.apply(context, prepared, reaction)
    scene.frame_start, scene.frame_end = start, end
    print(f"remogen: wrote action {action.name!r} on {obj.name!r}", flush=True)
    bpy.ops.wm.save_as_mainfile(filepath=bpy.path.abspath(args.out), check_existing=False)
    print(f"remogen: saved {args.out}", flush=True)
    if args.render:
        from .render import render_still, render_workbench_mp4

        render_workbench_mp4(context, args.render, start, end, args.resolution, focus=[obj, bpy.data.objects[args.partner]])
        print(f"remogen: rendered {args.render}", flush=True)
        if args.still:
            render_still(context, args.still, (start + end) // 2)
            print(f"remogen: rendered {args.still}", flush=True)
    return 0
