"""Bone maps: where each of the 22 SMPL-X body joints sits on a source skeleton.

A map names, for every SMPL-X body joint, a *point* on the source skeleton: a source joint, a
point between two joints (`Lerp`), or a point at a fraction of the way along a chain of joints
(`Chain`, used to spread SMPL-X's three spine joints over the source's spine however many joints
it has). Retargeting makes each canonical bone point the way the segment between the two mapped
points points.

Leaves (head, feet, wrists) have no child among the 22 joints, so their orientation comes from a
`Leaf`: a source direction (e.g. head -> head end site) that should point along `rest_direction`
of the canonical rest frame, and optionally a second direction (e.g. right eye -> left eye) that
fixes the twist about it.

Source skeletons use "<parent>_end" for BVH end sites (see `SourceMotion`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..body import BODY_JOINT_NAMES


class BoneMapError(ValueError):
    """A skeleton that cannot be mapped onto the SMPL-X body; the message names what is missing."""


@dataclass(frozen=True)
class Lerp:
    """The point a fraction `t` of the way from joint `a` to joint `b`."""
    a: str
    b: str
    t: float


@dataclass(frozen=True)
class Chain:
    """The point at fraction `t` of the arc length along a chain of joints (per frame)."""
    joints: tuple[str, ...]
    t: float


Point = str | Lerp | Chain


@dataclass(frozen=True)
class Leaf:
    direction: tuple[Point, Point]               # source segment, from -> to
    rest_direction: tuple[float, float, float]   # where it points in the canonical rest frame
    secondary: tuple[Point, Point] | None = None  # fixes the twist about `direction`
    rest_secondary: tuple[float, float, float] = (1.0, 0.0, 0.0)


@dataclass(frozen=True)
class BoneMap:
    kind: str
    points: dict[str, Point]                     # SMPL-X body joint -> source point (all 22)
    leaves: dict[str, Leaf] = field(default_factory=dict)

    def source_joints(self) -> set[str]:
        names: set[str] = set()
        specs: list[Point] = list(self.points.values())
        for leaf in self.leaves.values():
            specs += list(leaf.direction) + list(leaf.secondary or ())
        for p in specs:
            names.update(point_joints(p))
        return names

    def check(self, joint_names: list[str], where: str = "") -> None:
        """Raise a `BoneMapError` naming every joint this map needs that the skeleton lacks."""
        missing = sorted(self.source_joints() - set(joint_names))
        if missing:
            raise BoneMapError(f"{where or 'skeleton'}: the {self.kind} bone map needs joints the "
                               f"skeleton lacks: {', '.join(missing)}")


def point_joints(p: Point) -> tuple[str, ...]:
    if isinstance(p, str):
        return (p,)
    if isinstance(p, Lerp):
        return (p.a, p.b)
    return p.joints


# SMPL-X template spine: cumulative length pelvis -> spine1/2/3 as a fraction of pelvis -> neck.
SPINE_FRACTIONS = {"spine1": 0.24, "spine2": 0.50, "spine3": 0.60}


def _spine(chain: tuple[str, ...]) -> dict[str, Point]:
    return {name: Chain(chain, t) for name, t in SPINE_FRACTIONS.items()}


FORWARD, UP = (0.0, -1.0, 0.0), (0.0, 0.0, 1.0)  # the canonical body faces -Y, Z up


def _wrist_leaf(hand: str, tip: Point, side_from: Point, side_to: Point, sign: float) -> Leaf:
    # The hand points along +X (left) / -X (right) in the T-pose; index side is forward (-Y).
    return Leaf((hand, tip), (sign, 0.0, 0.0), (side_from, side_to), FORWARD)


def _cmu_like(n: dict[str, str]) -> BoneMap:
    """CMU skeleton in BVH (cgspeed names or amc2bvh's ASF names): joints sit at bone *start* points."""
    pts: dict[str, Point] = {
        "pelvis": n["hips"], "neck": n["neck"], "head": n["head"],
        **_spine((n["hips"], n["lowerback"], n["spine"], n["spine1"])),
    }
    for side, s in (("left", "L"), ("right", "R")):
        pts[f"{side}_hip"] = n[f"{s}upleg"]
        pts[f"{side}_knee"] = n[f"{s}leg"]
        pts[f"{side}_ankle"] = n[f"{s}foot"]
        pts[f"{side}_foot"] = n[f"{s}toe"]
        # CMU's clavicle starts at the neck base; SMPL-X's collar joint sits ~7 cm to the side.
        pts[f"{side}_collar"] = Lerp(n[f"{s}clav"], n[f"{s}arm"], 0.35)
        pts[f"{side}_shoulder"] = n[f"{s}arm"]
        pts[f"{side}_elbow"] = n[f"{s}forearm"]
        pts[f"{side}_wrist"] = n[f"{s}hand"]
    leaves = {"head": Leaf((n["head"], n["head"] + "_end"), UP)}
    for side, s, sign in (("left", "L", 1.0), ("right", "R", -1.0)):
        leaves[f"{side}_foot"] = Leaf((n[f"{s}toe"], n[f"{s}toe"] + "_end"), FORWARD)
        leaves[f"{side}_wrist"] = _wrist_leaf(n[f"{s}hand"], n[f"{s}index"] + "_end",
                                              n[f"{s}hand"], n[f"{s}thumb"] + "_end", sign)
    return BoneMap("", pts, leaves)


_CGSPEED_NAMES = {
    "hips": "Hips", "lowerback": "LowerBack", "spine": "Spine", "spine1": "Spine1", "neck": "Neck",
    "head": "Head",
    **{f"{s}{k}": f"{side}{v}" for s, side in (("L", "Left"), ("R", "Right")) for k, v in (
        ("upleg", "UpLeg"), ("leg", "Leg"), ("foot", "Foot"), ("toe", "ToeBase"), ("clav", "Shoulder"),
        ("arm", "Arm"), ("forearm", "ForeArm"), ("hand", "Hand"), ("index", "HandIndex1"))},
    "Lthumb": "LThumb", "Rthumb": "RThumb",
}

_ASF_NAMES = {
    "hips": "hip", "lowerback": "lowerback", "spine": "upperback", "spine1": "thorax",
    "neck": "lowerneck", "head": "head",
    **{f"{s}{k}": f"{s.lower()}{v}" for s in ("L", "R") for k, v in (
        ("upleg", "femur"), ("leg", "tibia"), ("foot", "foot"), ("toe", "toes"), ("clav", "clavicle"),
        ("arm", "humerus"), ("forearm", "radius"), ("hand", "wrist"), ("index", "fingers"),
        ("thumb", "thumb"))},
}


def _cmu_asf() -> BoneMap:
    """CMU ASF/AMC as read by `asfamc.py`: a joint per bone at the bone's *end* point ("root" at
    the root), so e.g. the knee is where `lfemur` ends."""
    pts: dict[str, Point] = {"pelvis": "root", "neck": "thorax", "head": "upperneck",
                             **_spine(("root", "lowerback", "upperback", "thorax"))}
    leaves = {"head": Leaf(("upperneck", "head"), UP)}
    for side, s, sign in (("left", "l", 1.0), ("right", "r", -1.0)):
        pts.update({f"{side}_hip": f"{s}hipjoint", f"{side}_knee": f"{s}femur", f"{side}_ankle": f"{s}tibia",
                    f"{side}_foot": f"{s}foot", f"{side}_collar": Lerp("thorax", f"{s}clavicle", 0.35),
                    f"{side}_shoulder": f"{s}clavicle", f"{side}_elbow": f"{s}humerus",
                    f"{side}_wrist": f"{s}wrist"})
        leaves[f"{side}_foot"] = Leaf((f"{s}foot", f"{s}toes"), FORWARD)
        leaves[f"{side}_wrist"] = _wrist_leaf(f"{s}wrist", f"{s}fingers", f"{s}wrist", f"{s}thumb", sign)
    return BoneMap("cmu_asf", pts, leaves)


def _daz() -> BoneMap:
    pts: dict[str, Point] = {"pelvis": "hip", "neck": "neck", "head": "head",
                             **_spine(("hip", "abdomen", "chest", "neck"))}
    for side, s in (("left", "l"), ("right", "r")):
        pts.update({f"{side}_hip": f"{s}Thigh", f"{side}_knee": f"{s}Shin", f"{side}_ankle": f"{s}Foot",
                    f"{side}_foot": f"{s}Foot_end",  # no toe joints: the foot's end site
                    f"{side}_collar": f"{s}Collar", f"{side}_shoulder": f"{s}Shldr",
                    f"{side}_elbow": f"{s}ForeArm", f"{side}_wrist": f"{s}Hand"})
    eyes = Lerp("rightEye", "leftEye", 0.5)
    leaves = {"head": Leaf(("head", eyes), (0.0, -0.7071, 0.7071), ("rightEye", "leftEye"))}
    for side, s, sign in (("left", "l", 1.0), ("right", "r", -1.0)):
        leaves[f"{side}_wrist"] = _wrist_leaf(f"{s}Hand", f"{s}Mid1", f"{s}Pinky1", f"{s}Index1", sign)
    return BoneMap("daz", pts, leaves)


def _cc3() -> BoneMap:
    b = "CC_Base_"
    pts: dict[str, Point] = {"pelvis": b + "Hip", "neck": b + "NeckTwist01", "head": b + "Head",
                             **_spine(tuple(b + j for j in ("Hip", "Waist", "Spine01", "Spine02",
                                                            "NeckTwist01")))}
    for side, s in (("left", "L"), ("right", "R")):
        p = f"{b}{s}_"
        pts.update({f"{side}_hip": p + "Thigh", f"{side}_knee": p + "Calf", f"{side}_ankle": p + "Foot",
                    f"{side}_foot": p + "ToeBase", f"{side}_collar": p + "Clavicle",
                    f"{side}_shoulder": p + "Upperarm", f"{side}_elbow": p + "Forearm",
                    f"{side}_wrist": p + "Hand"})
    eyes = Lerp(b + "R_Eye", b + "L_Eye", 0.5)
    leaves = {"head": Leaf((b + "Head", eyes), (0.0, -0.7071, 0.7071), (b + "R_Eye", b + "L_Eye"))}
    for side, s, sign in (("left", "L", 1.0), ("right", "R", -1.0)):
        p = f"{b}{s}_"
        leaves[f"{side}_foot"] = Leaf((p + "ToeBase", p + "MidToe1"), FORWARD)
        leaves[f"{side}_wrist"] = _wrist_leaf(p + "Hand", p + "Mid1", p + "Pinky1", p + "Index1", sign)
    return BoneMap("cc3", pts, leaves)


def _smplx() -> BoneMap:
    return BoneMap("smplx", {n: n for n in BODY_JOINT_NAMES})


def _named(kind: str, m: BoneMap) -> BoneMap:
    return BoneMap(kind, m.points, m.leaves)


BONE_MAPS: dict[str, BoneMap] = {
    "cmu_cgspeed": _named("cmu_cgspeed", _cmu_like(_CGSPEED_NAMES)),
    "cmu_asf_bvh": _named("cmu_asf_bvh", _cmu_like(_ASF_NAMES)),
    "cmu_asf": _cmu_asf(),
    "daz": _daz(),
    "cc3": _cc3(),
    "smplx": _smplx(),
}


# --- auto-detection for skeletons of unknown kind -------------------------------------------------

_PREFIX = re.compile(r"^(mixamorig\d*[:_]|cc_base_|bip\d*[ _]?|def[-_]|orgs?[-_])", re.I)
_SIDES = (("left", "right"), ("l", "r"))

# Core name (lower case, side and separators removed) -> SMPL-X joint (sided ones without side).
_SYNONYMS = {
    "pelvis": {"hips", "hip", "pelvis", "root"},
    "hip": {"upleg", "thigh", "femur", "upperleg", "hip", "thighbone"},
    "knee": {"leg", "shin", "knee", "calf", "tibia", "lowerleg", "crus"},
    "ankle": {"foot", "ankle"},
    "foot": {"toebase", "toe", "toes", "ball", "footend", "toe0"},
    "neck": {"neck", "lowerneck", "neck1", "neck01", "necktwist01"},
    "head": {"head"},
    "collar": {"shoulder", "clavicle", "collar", "clav"},
    "shoulder": {"arm", "upperarm", "humerus", "shldr", "uparm"},
    "elbow": {"forearm", "lowerarm", "radius", "elbow"},
    "wrist": {"hand", "wrist"},
}


def _split_side(name: str) -> tuple[str | None, str]:
    """('left' | 'right' | None, core) for a joint name such as 'mixamorig:LeftUpLeg' or 'thigh.L'."""
    n = _PREFIX.sub("", name)
    n = re.sub(r"[^A-Za-z0-9]+", "_", n).strip("_")
    low = n.lower()
    for left, right in (("left", "right"),):
        for side, word in (("left", left), ("right", right)):
            if low.startswith(word) or low.endswith(word):
                core = low[len(word):] if low.startswith(word) else low[: -len(word)]
                return side, core.replace("_", "")
    parts = low.split("_")
    for side, letter in (("left", "l"), ("right", "r")):
        if len(parts) > 1 and parts[0] == letter:
            return side, "".join(parts[1:])
        if len(parts) > 1 and parts[-1] == letter:
            return side, "".join(parts[:-1])
    # CamelCase single-letter prefix: 'LThigh', 'lShin', 'RHand'.
    m = re.match(r"^([LlRr])([A-Z].*)$", n)
    if m:
        return ("left" if m.group(1) in "Ll" else "right"), m.group(2).lower().replace("_", "")
    return None, low.replace("_", "")


def _depth(i: int, parents: np.ndarray) -> int:
    d = 0
    while parents[i] >= 0:
        i, d = int(parents[i]), d + 1
    return d


def auto_detect(joint_names: list[str], parents: np.ndarray | None = None, where: str = "") -> BoneMap:
    """A bone map for an unknown skeleton from its joint names (Mixamo, Blender, Unity-like...).

    Raises `BoneMapError` naming the SMPL-X joints for which no source joint was found."""
    if parents is None:
        parents = np.full(len(joint_names), -1)
    found: dict[str, list[int]] = {}
    for i, name in enumerate(joint_names):
        if name.endswith("_end"):
            continue
        side, core = _split_side(name)
        for target, words in _SYNONYMS.items():
            if core in words:
                key = target if side is None else f"{side}_{target}"
                found.setdefault(key, []).append(i)
    pick = {k: min(v, key=lambda i: _depth(i, parents)) for k, v in found.items()}
    needed = ["pelvis", "neck", "head"] + [f"{s}_{j}" for s in ("left", "right") for j in (
        "hip", "knee", "ankle", "shoulder", "elbow", "wrist")]
    missing = [k for k in needed if k not in pick]
    if missing:
        raise BoneMapError(f"{where or 'skeleton'}: cannot map joints by name; found no source joint for "
                           f"SMPL-X {', '.join(missing)} (joint names: {', '.join(joint_names[:40])}"
                           f"{' ...' if len(joint_names) > 40 else ''})")
    name = {k: joint_names[i] for k, i in pick.items()}
    # Spine: the source joints strictly between pelvis and neck on the neck's ancestor path.
    chain = [pick["neck"]]
    while chain[-1] != pick["pelvis"] and parents[chain[-1]] >= 0:
        chain.append(int(parents[chain[-1]]))
    if chain[-1] != pick["pelvis"]:
        chain = [pick["neck"], pick["pelvis"]]
    spine = tuple(joint_names[i] for i in reversed(chain))
    pts: dict[str, Point] = {"pelvis": name["pelvis"], "neck": name["neck"], "head": name["head"],
                             **_spine(spine)}
    children = {i: [c for c in range(len(joint_names)) if parents[c] == i] for i in range(len(joint_names))}
    leaves: dict[str, Leaf] = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for j in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            pts[f"{side}_{j}"] = name[f"{side}_{j}"]
        ankle = pick[f"{side}_ankle"]
        toe = name.get(f"{side}_foot")
        if toe is None:  # no toe joint: the ankle's first child (end site or toe-like joint)
            kids = children[ankle]
            if not kids:
                raise BoneMapError(f"{where or 'skeleton'}: no toe joint or foot end site below "
                                   f"{joint_names[ankle]}")
            toe = joint_names[kids[0]]
        pts[f"{side}_foot"] = toe
        collar = name.get(f"{side}_collar")
        if collar is None or collar == name[f"{side}_shoulder"]:
            pts[f"{side}_collar"] = Lerp(name["neck"], name[f"{side}_shoulder"], 0.35)
        else:
            pts[f"{side}_collar"] = collar
    head_kids = children[pick["head"]]
    if head_kids:
        leaves["head"] = Leaf((name["head"], joint_names[head_kids[0]]), UP)
    return BoneMap("auto", pts, leaves)


def bone_map_for(skeleton: str, joint_names: list[str], parents: np.ndarray | None = None,
                 where: str = "") -> BoneMap:
    """The map for a skeleton kind (checked against the joint names), else auto-detected."""
    m = BONE_MAPS.get(skeleton)
    if m is not None:
        try:
            m.check(joint_names, where)
            return m
        except BoneMapError:
            if skeleton != "unknown":
                # A known kind whose optional leaf joints are missing: try without leaves.
                bare = BoneMap(m.kind, m.points, {})
                missing = sorted(bare.source_joints() - set(joint_names))
                if not missing:
                    return bare
            raise
    return auto_detect(joint_names, parents, where)
