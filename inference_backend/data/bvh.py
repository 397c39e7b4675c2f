"""A small, fast BVH reader: hierarchy + motion -> global joint positions (Z up, metres).

Why our own: the motion section is parsed in one C call (`np.fromstring`) and forward kinematics
is vectorised over frames (one loop over joints), so a 4 MB take loads in a fraction of a second;
every malformed input gets a `MotionFileError` that names the file and the problem.

Conventions handled here:
- any rotation channel order per joint (cgspeed `Z Y X`, Daz `Z X Y`, ...): the local rotation is
  the product of the channel rotations in file order (intrinsic Euler, degrees);
- position channels on any joint replace that joint's OFFSET (the usual BVH reading), except for
  iClone/CC3 exports, where they are added to it (`POSITION_ADDS_OFFSET`);
- `End Site`s become joints named `<parent>_end`;
- BVH is Y up: world (x, y, z) -> Z up (x, -z, y), so a body facing +Z faces -Y (our convention).
- Units by skeleton kind (see `SKELETON_SCALE`); unknown skeletons are scaled from the rest pose
  so the body is ~1.7 m tall.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .source import MotionFileError, SourceMotion

CMU_UNIT = 0.056444  # CMU length units (1/0.45 inch) in metres

# Metres per file unit, per skeleton kind (None: guess from the rest-pose height).
SKELETON_SCALE = {
    "cmu_cgspeed": CMU_UNIT,
    "cmu_asf_bvh": CMU_UNIT,
    "daz": 0.01,
    "cc3": 0.01,
    "smplx": None,
    "unknown": None,
}

# Kinds whose exporter writes root position channels *relative to* the root OFFSET (iClone puts
# the rest hip height in OFFSET and only the displacement in the channels); elsewhere position
# channels replace OFFSET, as Blender's importer reads them.
POSITION_ADDS_OFFSET = {"cc3"}

# Kinds whose zero-rotation pose is not a human T-pose (iClone bones carry their own local axes):
# their rest pose is frame 0 (an added T-pose in some files, the first captured frame in others;
# meta["rest_is_tpose"] says which).
REST_FROM_FIRST_FRAME = {"cc3"}

Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

_SMPLX_HINTS = {"pelvis", "left_hip", "right_hip", "spine1", "left_knee", "left_shoulder"}


@dataclass
class BvhHierarchy:
    names: list[str]
    parents: np.ndarray           # (J,) -1 for the root
    offsets: np.ndarray           # (J, 3) file units, file axes
    channels: list[list[str]]     # per joint, e.g. ["Xposition", ..., "Zrotation", ...]
    channel_start: np.ndarray     # (J,) column of each joint's first channel
    num_channels: int


def detect_skeleton(names: list[str]) -> str:
    """Skeleton kind from joint names (see `SourceMotion.skeleton`)."""
    s = set(names)
    if any(n.startswith("CC_Base_") for n in names):
        return "cc3"
    if len(_SMPLX_HINTS & s) >= 5:
        return "smplx"
    if "abdomen" in s and ({"rThigh", "lThigh"} & s):
        return "daz"
    if {"lfemur", "rfemur", "lhumerus"} <= s:
        return "cmu_asf_bvh"
    if {"LHipJoint", "RHipJoint", "LeftUpLeg"} <= s:
        return "cmu_cgspeed"
    return "unknown"


def _fail(path, problem: str):
    raise MotionFileError(f"{path}: {problem}")


def parse_hierarchy(text: str, path="<bvh>") -> BvhHierarchy:
    """Parse the HIERARCHY section (everything before MOTION)."""
    tokens = text.split()
    if not tokens or tokens[0] != "HIERARCHY":
        _fail(path, "not a BVH file: it does not start with HIERARCHY")
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    pending = None  # joint declared, waiting for its '{'
    i = 1
    n = len(tokens)
    try:
        while i < n:
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                if tok == "ROOT" and (stack or names):
                    _fail(path, "more than one ROOT (only single-skeleton files are supported)")
                if tok == "JOINT" and not stack:
                    _fail(path, f"JOINT {tokens[i + 1]} outside any parent (unbalanced braces)")
                names.append(tokens[i + 1])
                parents.append(stack[-1] if stack else -1)
                offsets.append((0.0, 0.0, 0.0))
                channels.append([])
                pending = len(names) - 1
                i += 2
            elif tok == "End":  # "End Site"
                if not stack:
                    _fail(path, "End Site outside any joint (unbalanced braces)")
                names.append(f"{names[stack[-1]]}_end")
                parents.append(stack[-1])
                offsets.append((0.0, 0.0, 0.0))
                channels.append([])
                pending = len(names) - 1
                i += 2
            elif tok == "{":
                if pending is None:
                    _fail(path, "'{' without a joint (unbalanced braces)")
                stack.append(pending)
                pending = None
                i += 1
            elif tok == "}":
                if not stack:
                    _fail(path, "unbalanced braces: '}' without '{'")
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                if not stack:
                    _fail(path, "OFFSET outside a joint")
                offsets[stack[-1]] = tuple(float(v) for v in tokens[i + 1:i + 4])
                i += 4
            elif tok == "CHANNELS":
                if not stack:
                    _fail(path, "CHANNELS outside a joint")
                count = int(tokens[i + 1])
                chans = tokens[i + 2:i + 2 + count]
                bad = [c for c in chans if c not in _CHANNEL_NAMES]
                if bad or len(chans) != count:
                    _fail(path, f"joint {names[stack[-1]]}: bad CHANNELS {' '.join(chans)}")
                channels[stack[-1]] = chans
                i += 2 + count
            else:
                _fail(path, f"unexpected token {tok!r} in HIERARCHY")
    except (IndexError, ValueError) as exc:
        if isinstance(exc, MotionFileError):
            raise
        _fail(path, f"malformed HIERARCHY near token {i} ({exc})")
    if stack or pending is not None:
        _fail(path, "unbalanced braces in HIERARCHY (a joint is not closed)")
    if not names:
        _fail(path, "HIERARCHY has no joints")
    counts = np.array([len(c) for c in channels])
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return BvhHierarchy(names, np.array(parents, dtype=np.int64), np.array(offsets, dtype=np.float64),
                        channels, start, int(counts.sum()))


_CHANNEL_NAMES = {f"{a}{k}" for a in "XYZ" for k in ("position", "rotation")}


def _header_number(motion_head: str, key: str, path) -> str:
    m = re.search(rf"{key}\s*:?\s*(\S+)", motion_head)
    if not m:
        _fail(path, f"missing '{key}:' line after MOTION")
    return m.group(1)


def _diagnose_motion(lines: list[str], frames: int, width: int, path):
    """Called only when the fast parse failed: find the first bad line for a precise error."""
    if len(lines) < frames:
        _fail(path, f"truncated: {len(lines)} motion lines but the header says Frames: {frames}")
    if len(lines) > frames:
        _fail(path, f"{len(lines)} motion lines but the header says Frames: {frames}")
    for k, line in enumerate(lines):
        values = line.split()
        if len(values) != width:
            _fail(path, f"motion line {k + 1} has {len(values)} values, expected {width}")
        for v in values:
            try:
                float(v)
            except ValueError:
                _fail(path, f"motion line {k + 1}: non-numeric value {v!r}")
    _fail(path, "could not parse the motion values")


def read_motion_array(text: str, path="<bvh>") -> tuple[BvhHierarchy, np.ndarray, float]:
    """(hierarchy, channel values (T, C) float64 as in the file, header frame time)."""
    m = re.search(r"^\s*MOTION\s*$", text, flags=re.MULTILINE)
    if not m:
        if "HIERARCHY" not in text[:200]:
            _fail(path, "not a BVH file: missing HIERARCHY")
        _fail(path, "missing MOTION section (truncated file?)")
    hier = parse_hierarchy(text[:m.start()], path)
    rest = text[m.end():]
    # "Frames: N" and "Frame Time: t" are the next two lines; the values follow.
    head_lines = rest.lstrip("\r\n").split("\n", 2)
    if len(head_lines) < 2:
        _fail(path, "truncated after MOTION (no Frames/Frame Time lines)")
    try:
        frames = int(_header_number(head_lines[0], "Frames", path))
        frame_time = float(_header_number(head_lines[1], "Frame Time", path))
    except ValueError:
        _fail(path, f"bad Frames/Frame Time lines: {head_lines[0].strip()!r}, {head_lines[1].strip()!r}")
    if frames <= 0:
        _fail(path, f"zero frames (Frames: {frames})")
    if not (np.isfinite(frame_time) and frame_time > 0):
        _fail(path, f"bad Frame Time {frame_time}")
    body = head_lines[2] if len(head_lines) > 2 else ""
    width = hier.num_channels
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.fromstring(body, dtype=np.float64, sep=" ")
    lines = [ln for ln in body.split("\n") if ln.strip()]
    if values.size != frames * width or len(lines) != frames:
        _diagnose_motion(lines, frames, width, path)
    values = values.reshape(frames, width)
    if not np.isfinite(values).all():
        row = int(np.argwhere(~np.isfinite(values))[0, 0])
        _fail(path, f"non-finite value on motion line {row + 1}")
    return hier, values, frame_time


def _local_rotations(hier: BvhHierarchy, values: np.ndarray) -> list[np.ndarray | None]:
    """Per joint (T, 3, 3) local rotation from its rotation channels, None when it has none."""
    out: list[np.ndarray | None] = []
    for j, chans in enumerate(hier.channels):
        rot_cols = [k for k, c in enumerate(chans) if c.endswith("rotation")]
        if not rot_cols:
            out.append(None)
            continue
        seq = "".join(chans[k][0] for k in rot_cols)  # upper case = intrinsic, in file order
        angles = values[:, hier.channel_start[j] + np.array(rot_cols)]
        out.append(Rotation.from_euler(seq, angles, degrees=True).as_matrix())
    return out


def _local_translations(hier: BvhHierarchy, values: np.ndarray, add_offset: bool) -> list[np.ndarray]:
    """Per joint (T, 3) or (3,) translation from the parent: position channels replace OFFSET
    (or are added to it when `add_offset`)."""
    out = []
    for j, chans in enumerate(hier.channels):
        t = hier.offsets[j]
        pos = {c[0]: k for k, c in enumerate(chans) if c.endswith("position")}
        if pos:
            t = np.broadcast_to(t, (values.shape[0], 3)).copy()
            for axis, k in pos.items():
                a = "XYZ".index(axis)
                column = values[:, hier.channel_start[j] + k]
                t[:, a] = t[:, a] + column if add_offset else column
        out.append(t)
    return out


def bvh_forward_kinematics(hier: BvhHierarchy, values: np.ndarray, add_offset: bool = False) -> np.ndarray:
    """(T, J, 3) global joint positions in file units and file axes."""
    rots = _local_rotations(hier, values)
    trans = _local_translations(hier, values, add_offset)
    T = values.shape[0]
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    g_rot: list[np.ndarray] = [None] * len(hier.names)  # type: ignore[list-item]
    g_pos = np.zeros((T, len(hier.names), 3))
    for j, p in enumerate(hier.parents):
        if p < 0:
            g_pos[:, j] = trans[j]
            g_rot[j] = rots[j] if rots[j] is not None else eye
        else:
            g_pos[:, j] = g_pos[:, p] + np.einsum("tab,tb->ta", g_rot[p], np.broadcast_to(trans[j], (T, 3)))
            g_rot[j] = g_rot[p] if rots[j] is None else g_rot[p] @ rots[j]
    return g_pos


def rest_positions_file_units(hier: BvhHierarchy) -> np.ndarray:
    """(J, 3) joint positions with zero rotations (offsets only), root at its OFFSET."""
    pos = np.zeros((len(hier.names), 3))
    for j, p in enumerate(hier.parents):
        pos[j] = hier.offsets[j] if p < 0 else pos[p] + hier.offsets[j]
    return pos


def snap_fps(fps: float) -> float:
    """Frame Time is written rounded (".0083333"): snap to a whole rate within 0.1 %."""
    whole = round(fps)
    return float(whole) if whole > 0 and abs(fps - whole) < 1e-3 * fps else fps


def guess_scale(rest_height: float) -> float:
    """Metres per unit so that a rest height of `rest_height` units becomes a ~1.7 m body:
    the nearest common unit (m, cm, mm, inch, CMU unit) in log distance."""
    if not rest_height > 0:
        return 1.0
    wanted = 1.7 / rest_height
    units = np.array([1.0, 0.01, 0.001, 0.0254, CMU_UNIT])
    return float(units[np.argmin(np.abs(np.log(units / wanted)))])


_LEFT_RIGHT_HIPS = {"cc3": ("CC_Base_L_Thigh", "CC_Base_R_Thigh")}


def _facing_minus_y(pose: np.ndarray, names: list[str], kind: str) -> np.ndarray:
    """Turn a Z-up pose about Z so its hips' left-right axis is +X (the body faces -Y), with the
    root's ground point at the origin. Used for T-poses recorded in a motion frame."""
    out = pose - np.array([pose[0, 0], pose[0, 1], 0.0])
    left, right = _LEFT_RIGHT_HIPS.get(kind, (None, None))
    if left in names and right in names:
        across = out[names.index(left)] - out[names.index(right)]
        angle = -np.arctan2(across[1], across[0])
        c, s = np.cos(angle), np.sin(angle)
        out = out @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T
    return out


def _shape_steps(world: np.ndarray, count: int) -> tuple[np.ndarray, float]:
    """Mean root-relative joint displacement per frame step over the first `count` frames, and
    the body's size (same units): a unit- and placement-free measure of how fast the pose changes."""
    rel = world[:count] - world[:count, :1]
    steps = np.linalg.norm(rel[1:] - rel[:-1], axis=-1).mean(-1)
    return steps, float(np.linalg.norm(rel[0], axis=-1).max())


def frame0_is_added_tpose(world: np.ndarray) -> bool:
    """True when frame 0 is a pose pasted in front of the capture (cgspeed, Daz-friendly and some
    iClone exports): the pose jumps from frame 0 to 1 far more than the take's usual step.
    world: (T, J, 3) positions in any units."""
    if world.shape[0] < 4:
        return False
    steps, size = _shape_steps(world, 41)
    usual = float(np.median(steps[min(8, len(steps) - 1):]))
    return bool(steps[0] > 0.05 * size and steps[0] > 4.0 * max(usual, 1e-4 * size))


MAX_LEAD_IN = 12


def lead_in_frames(world: np.ndarray) -> int:
    """Frames after a dropped T-pose that still blend out of it. The Daz-friendly conversion eases
    from the T-pose into the capture over ~8 frames (arms falling at several m/s); those frames
    are not motion. Counted as the leading steps that stay well above the take's usual step."""
    if world.shape[0] < MAX_LEAD_IN + 8:
        return 0
    steps, size = _shape_steps(world, MAX_LEAD_IN + 41)
    usual = float(np.median(steps[MAX_LEAD_IN:]))
    limit = max(3.0 * usual, 0.004 * size)
    n = 0
    while n < MAX_LEAD_IN and steps[n] > limit:
        n += 1
    return n


def read_bvh(path, fps: float | None = None, drop_first_frame: bool | None = None,
             take_id: str | None = None, skeleton: str | None = None) -> SourceMotion:
    """Read a BVH file into a `SourceMotion` (global joint positions, metres, Z up).

    fps: the true capture rate; beats the header's Frame Time (which is wrong for some sources).
    drop_first_frame: drop an added T-pose frame 0; None = detect it (`frame0_is_added_tpose`).
      The catalog passes what each source's manifest says where it is reliable. With frame 0
      dropped, the frames that still blend out of the T-pose are dropped too (`lead_in_frames`).
    skeleton: the skeleton kind; None = detected from the joint names.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MotionFileError(f"{path}: cannot read ({exc})") from exc
    hier, values, frame_time = read_motion_array(text, path)
    kind = skeleton or detect_skeleton(hier.names)
    world = bvh_forward_kinematics(hier, values, add_offset=kind in POSITION_ADDS_OFFSET) @ Y_UP_TO_Z_UP.T
    tpose0 = frame0_is_added_tpose(world)
    if drop_first_frame is None:
        drop_first_frame = tpose0
    if drop_first_frame and values.shape[0] < 2:
        _fail(path, "only one frame, which is the T-pose frame to drop")
    if kind in REST_FROM_FIRST_FRAME:
        rest = _facing_minus_y(world[0], hier.names, kind)
    else:
        rest = rest_positions_file_units(hier) @ Y_UP_TO_Z_UP.T
    scale = SKELETON_SCALE.get(kind)
    if scale is None:  # unknown units: the rest pose's vertical extent (file Y or Z up) ~ 1.7 m
        extent = rest.max(0) - rest.min(0)
        scale = guess_scale(float(max(extent[1], extent[2])))
    lead_in = lead_in_frames(world[1:]) if drop_first_frame else 0
    positions = world[1 + lead_in:] if drop_first_frame else world
    if positions.shape[0] == 0:
        _fail(path, "no frames left after dropping the T-pose")
    positions = positions * scale
    if not np.isfinite(positions).all():
        _fail(path, "forward kinematics produced non-finite positions")
    header_fps = snap_fps(1.0 / frame_time)
    return SourceMotion(
        path=str(path),
        take_id=take_id or path.stem,
        skeleton=kind,
        joint_names=list(hier.names),
        parents=hier.parents.copy(),
        rest_positions=(rest * scale).astype(np.float32),
        positions=positions.astype(np.float32),
        fps=float(fps) if fps else header_fps,
        meta={"header_fps": header_fps, "dropped_tpose": bool(drop_first_frame), "lead_in_dropped": lead_in, "scale": scale,
              "format": "bvh", "frame0_looks_like_tpose": tpose0,
              "rest_is_tpose": tpose0 if kind in REST_FROM_FIRST_FRAME else True},
    )
