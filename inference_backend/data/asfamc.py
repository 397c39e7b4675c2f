"""CMU's original ASF (skeleton) + AMC (motion) files -> global joint positions (Z up, metres).

The classic ASF/AMC kinematics (as in CMU's own viewer and the AMCParser everyone copies):
every bone has a rest `direction` (unit vector, global axes), a `length` and an `axis` (Euler
angles, degrees, in the given order) that define its local frame C. A frame's dof angles give M
(rotations about x, y, z applied in dof order). The bone's global rotation is
R = R_parent · C · M · C⁻¹ and its end point is parent_end + R · direction · length. The root is
placed at the AMC root translation and rotated by C_root · M_root · C_root⁻¹.

Joints returned: "root" (the root position) and one per bone, at the bone's *end*; parents follow
the ASF hierarchy. Units: `:units length L` means lengths are in 1/L inch (CMU: 0.45, i.e.
0.056444 m per unit). Y up in the file -> Z up here. AMC has no frame rate: CMU captured at 120 fps.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .source import MotionFileError, SourceMotion

Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
INCH = 0.0254


@dataclass
class AsfBone:
    name: str
    direction: np.ndarray  # (3,) unit, global axes
    length: float
    axis: np.ndarray       # (3,) degrees about x, y, z
    axis_order: str        # e.g. "XYZ"
    dof: list[str]         # e.g. ["rx", "ry", "rz"]


@dataclass
class AsfSkeleton:
    bones: list[AsfBone]            # file order
    parent: dict[str, str]          # bone -> parent bone or "root"
    length_unit: float              # metres per file length unit
    root_order: list[str]           # e.g. ["TX", "TY", "TZ", "RX", "RY", "RZ"]
    root_axis_order: str
    root_position: np.ndarray       # (3,)
    root_orientation: np.ndarray    # (3,) degrees


def _fail(path, problem: str):
    raise MotionFileError(f"{path}: {problem}")


def _euler(order: str, angles_deg: np.ndarray) -> np.ndarray:
    """Rotation(s) about the fixed x/y/z axes applied in `order` (extrinsic), degrees."""
    return Rotation.from_euler(order.lower(), angles_deg, degrees=True).as_matrix()


def read_asf(path) -> AsfSkeleton:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MotionFileError(f"{path}: cannot read ({exc})") from exc
    sections = {m.group(1).lower(): m for m in re.finditer(r"^:(\w+)", text, flags=re.MULTILINE)}
    for needed in ("root", "bonedata", "hierarchy"):
        if needed not in sections:
            _fail(path, f"not an ASF file: no :{needed} section")

    def section(name: str) -> str:
        start = sections[name].end()
        later = [m.start() for m in sections.values() if m.start() > start]
        return text[start:min(later) if later else len(text)]

    length = 1.0
    if "units" in sections:
        m = re.search(r"^\s*length\s+(\S+)", section("units"), flags=re.MULTILINE)
        if m:
            length = float(m.group(1))
        if re.search(r"^\s*angle\s+rad", section("units"), flags=re.MULTILINE):
            _fail(path, "radian ASF files are not supported (CMU uses degrees)")
    root_fields: dict[str, list[str]] = {}
    for line in section("root").splitlines():
        parts = line.split()
        if parts:
            root_fields[parts[0].lower()] = parts[1:]
    bones = []
    for block in re.findall(r"begin(.*?)end", section("bonedata"), flags=re.DOTALL):
        fields: dict[str, list[str]] = {}
        for line in block.splitlines():
            parts = line.split()
            if parts:
                fields[parts[0].lower()] = parts[1:]
        try:
            axis = fields.get("axis", ["0", "0", "0", "XYZ"])
            bones.append(AsfBone(
                name=fields["name"][0],
                direction=np.array([float(v) for v in fields["direction"][:3]]),
                length=float(fields["length"][0]),
                axis=np.array([float(v) for v in axis[:3]]),
                axis_order=axis[3].upper() if len(axis) > 3 else "XYZ",
                dof=[d.lower() for d in fields.get("dof", [])],
            ))
        except (KeyError, IndexError, ValueError) as exc:
            _fail(path, f"bad bone block in :bonedata ({exc!r})")
    parent: dict[str, str] = {}
    hier = re.search(r"begin(.*?)end", section("hierarchy"), flags=re.DOTALL)
    for line in (hier.group(1) if hier else "").splitlines():
        parts = line.split()
        for child in parts[1:]:
            parent[child] = parts[0]
    names = {b.name for b in bones}
    if not bones or set(parent) != names:
        _fail(path, "ASF hierarchy does not cover every bone exactly")
    try:
        root_axis = root_fields.get("axis", ["XYZ"])[0].upper()
        return AsfSkeleton(
            bones=bones, parent=parent, length_unit=INCH / length,
            root_order=[o.upper() for o in root_fields.get("order", "TX TY TZ RX RY RZ".split())],
            root_axis_order=root_axis,
            root_position=np.array([float(v) for v in root_fields.get("position", ["0", "0", "0"])[:3]]),
            root_orientation=np.array([float(v) for v in root_fields.get("orientation", ["0", "0", "0"])[:3]]),
        )
    except ValueError as exc:
        _fail(path, f"bad :root section ({exc})")


def read_amc(path, skeleton: AsfSkeleton) -> dict[str, np.ndarray]:
    """{"root": (T, 6) in root order, bone: (T, len(dof))} from an AMC file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MotionFileError(f"{path}: cannot read ({exc})") from exc
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("#", ":"))]
    if not lines or not lines[0].isdigit():
        _fail(path, "not an AMC file: no frame number after the header")
    # Frame layout from the first frame; every frame must list the same bones in the same order.
    per_frame = 1
    while per_frame < len(lines) and not lines[per_frame].isdigit():
        per_frame += 1
    if len(lines) % per_frame:
        _fail(path, f"truncated: {len(lines)} lines is not a whole number of {per_frame}-line frames")
    frames = len(lines) // per_frame
    names = [ln.split(None, 1)[0] for ln in lines[1:per_frame]]
    widths = {"root": len(skeleton.root_order)}
    widths.update({b.name: len(b.dof) for b in skeleton.bones})
    out: dict[str, np.ndarray] = {}
    for k, name in enumerate(names, start=1):
        if name not in widths:
            _fail(path, f"bone {name!r} is not in the ASF skeleton")
        column = lines[k::per_frame]
        if any(not ln.startswith(name) for ln in column):
            _fail(path, f"frames do not all list bone {name!r} in line {k} of the frame")
        joined = " ".join(ln[len(name):] for ln in column)
        try:
            values = np.array(joined.split(), dtype=np.float64)
        except ValueError:
            _fail(path, f"non-numeric value for bone {name!r}")
        if values.size != frames * widths[name]:
            _fail(path, f"bone {name!r}: expected {widths[name]} values per frame")
        out[name] = values.reshape(frames, widths[name])
    if not all(ln.isdigit() for ln in lines[0::per_frame]):
        _fail(path, "frame numbers out of place (frames with different bone lists?)")
    if "root" not in out:
        _fail(path, "no root line in the frames")
    if not all(np.isfinite(v).all() for v in out.values()):
        _fail(path, "non-finite values")
    return out


def asf_amc_positions(skeleton: AsfSkeleton, motion: dict[str, np.ndarray] | None, frames: int = 1):
    """(T, 1 + bones, 3) global positions (file units, file axes): root, then each bone's end.
    motion=None gives the rest pose."""
    T = frames if motion is None else next(iter(motion.values())).shape[0]
    order = skeleton.root_order
    root_vals = motion["root"] if motion is not None else np.zeros((T, len(order)))
    root_pos = np.tile(skeleton.root_position, (T, 1))
    rot_axes, rot_vals = "", []
    for k, channel in enumerate(order):
        if channel.startswith("T"):
            root_pos[:, "XYZ".index(channel[1])] = root_vals[:, k]
        elif channel.startswith("R"):
            rot_axes += channel[1]
            rot_vals.append(root_vals[:, k])
    c_root = _euler(skeleton.root_axis_order, skeleton.root_orientation[["XYZ".index(a) for a in skeleton.root_axis_order]])
    m_root = _euler(rot_axes, np.stack(rot_vals, -1)) if rot_axes else np.eye(3)
    index = {"root": 0}
    global_rot = {"root": c_root @ m_root @ c_root.T}
    positions = np.zeros((T, 1 + len(skeleton.bones), 3))
    positions[:, 0] = root_pos
    # Bones in an order where parents come first.
    pending = list(skeleton.bones)
    while pending:
        progressed = False
        for bone in list(pending):
            p = skeleton.parent[bone.name]
            if p not in index:
                continue
            c = _euler(bone.axis_order, bone.axis[["XYZ".index(a) for a in bone.axis_order]])
            if bone.dof and motion is not None and bone.name in motion:
                axes = "".join(d[1] for d in bone.dof if d.startswith("r"))
                cols = [k for k, d in enumerate(bone.dof) if d.startswith("r")]
                m = _euler(axes, motion[bone.name][:, cols]) if axes else np.eye(3)
            else:
                m = np.eye(3)
            rot = global_rot[p] @ (c @ m @ c.T)
            j = len(index)
            index[bone.name] = j
            global_rot[bone.name] = rot
            positions[:, j] = positions[:, index[p]] + (rot @ (bone.direction * bone.length))[..., :]
            pending.remove(bone)
            progressed = True
        if not progressed:
            raise MotionFileError(f"ASF hierarchy has a cycle or unknown parent: {[b.name for b in pending]}")
    names = sorted(index, key=index.get)
    parents = np.array([-1] + [index[skeleton.parent[n]] for n in names[1:]], dtype=np.int64)
    return names, parents, positions


def read_asf_amc(asf_path, amc_path, fps: float = 120.0, take_id: str | None = None) -> SourceMotion:
    """Read a CMU ASF/AMC take into a `SourceMotion` (skeleton kind "cmu_asf")."""
    skeleton = read_asf(asf_path)
    motion = read_amc(amc_path, skeleton)
    names, parents, world = asf_amc_positions(skeleton, motion)
    _, _, rest = asf_amc_positions(skeleton, None)
    scale = skeleton.length_unit
    return SourceMotion(
        path=str(amc_path),
        take_id=take_id or Path(amc_path).stem,
        skeleton="cmu_asf",
        joint_names=names,
        parents=parents,
        rest_positions=(rest[0] @ Y_UP_TO_Z_UP.T * scale).astype(np.float32),
        positions=(world @ Y_UP_TO_Z_UP.T * scale).astype(np.float32),
        fps=float(fps),
        meta={"format": "amc", "asf": str(asf_path), "scale": scale, "dropped_tpose": False},
    )
