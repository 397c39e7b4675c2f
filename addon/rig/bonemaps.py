"""Bone maps: which bone of a user's rig stands for each of the 22 SMPL-X body joints.

A preset names, per SMPL-X body joint, the bone whose *head* sits at that joint and which points
towards the joint's child (used both to read joint positions and to bake rotations). Where a rig
has no bone at an SMPL-X joint (CMU's chest and collar joints), `positions` gives the joint as a
weighted blend of bone heads instead; such joints are still baked through the named bone.

Presets: SMPL-X names (our own rig), Mixamo (`mixamorig:` or any `<prefix>Hips` prefix), Rigify
(DEF-, ORG- and metarig names), CMU BVH as imported by Blender's BVH importer, iClone/CC3.
`detect` picks the preset matching most bones; `resolve` fails with the missing bone names.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .skeleton import BODY_JOINT_NAMES

Blend = tuple[tuple[str, float], ...]


class BoneMapError(ValueError):
    """The rig cannot be mapped onto the SMPL-X body (names the missing bones)."""


@dataclass(frozen=True)
class BoneMapPreset:
    name: str
    label: str
    bones: dict[str, str]  # SMPL-X body joint -> bone name (without prefix)
    positions: dict[str, Blend] = field(default_factory=dict)  # joint -> blend of bone heads
    prefixed: bool = False  # names carry a rig-specific prefix found from the "Hips" bone
    hints: tuple[str, ...] = ()  # bones typical of this rig family, to break ties in `detect`


def _sided(table: dict[str, str], left: str, right: str) -> dict[str, str]:
    """Expand `{"{s}_hip": "{S}Thigh"}`-style templates to both sides."""
    out = {}
    for joint, bone in table.items():
        out[joint.format(s="left")] = bone.format(S=left)
        out[joint.format(s="right")] = bone.format(S=right)
    return out


_LIMBS = ("{s}_hip", "{s}_knee", "{s}_ankle", "{s}_foot", "{s}_collar", "{s}_shoulder", "{s}_elbow", "{s}_wrist")


def _preset(name, label, centre, limb_bones, left, right, positions=None, prefixed=False, hints=()) -> BoneMapPreset:
    bones = dict(centre)
    bones.update(_sided(dict(zip(_LIMBS, limb_bones)), left, right))
    assert set(bones) == set(BODY_JOINT_NAMES), name
    return BoneMapPreset(name, label, bones, dict(positions or {}), prefixed, tuple(hints))


SMPLX = BoneMapPreset("SMPLX", "SMPL-X", {j: j for j in BODY_JOINT_NAMES})

MIXAMO = _preset(
    "MIXAMO", "Mixamo",
    {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head"},
    ("{S}UpLeg", "{S}Leg", "{S}Foot", "{S}ToeBase", "{S}Shoulder", "{S}Arm", "{S}ForeArm", "{S}Hand"),
    "Left", "Right", prefixed=True, hints=("HeadTop_End", "LeftHandIndex4"),
)

_RIGIFY_CENTRE = {"pelvis": "spine", "spine1": "spine.001", "spine2": "spine.002", "spine3": "spine.003",
                  "neck": "spine.004", "head": "spine.006"}
_RIGIFY_LIMBS = ("thigh{S}", "shin{S}", "foot{S}", "toe{S}", "shoulder{S}", "upper_arm{S}", "forearm{S}", "hand{S}")


def _rigify(prefix: str, name: str, label: str) -> BoneMapPreset:
    centre = {j: prefix + b for j, b in _RIGIFY_CENTRE.items()}
    return _preset(name, label, centre, tuple(prefix + b for b in _RIGIFY_LIMBS), ".L", ".R")


RIGIFY_DEF = _rigify("DEF-", "RIGIFY_DEF", "Rigify (DEF- bones)")
RIGIFY_ORG = _rigify("ORG-", "RIGIFY_ORG", "Rigify (ORG- bones)")
RIGIFY_META = _rigify("", "RIGIFY_META", "Rigify metarig")

# CMU (cgspeed BVH, Blender's BVH importer keeps the joint names). Zero-length bones (LHipJoint,
# LowerBack, Neck, LeftShoulder) start at their parent's head; the chest (spine3) and collars
# have no joint of their own, so their positions blend neighbouring joints.
CMU_BVH = _preset(
    "CMU_BVH", "CMU BVH",
    {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Neck", "neck": "Neck1", "head": "Head"},
    ("{S}UpLeg", "{S}Leg", "{S}Foot", "{S}ToeBase", "{S}Shoulder", "{S}Arm", "{S}ForeArm", "{S}Hand"),
    "Left", "Right", hints=("LHipJoint", "RHipJoint", "LowerBack", "LeftFingerBase"),
    positions={
        "spine3": (("Spine1", 0.5), ("Neck1", 0.5)),
        "left_collar": (("Neck1", 0.5), ("LeftArm", 0.5)),
        "right_collar": (("Neck1", 0.5), ("RightArm", 0.5)),
    },
)

CC3 = _preset(
    "CC3", "iClone / Character Creator (CC_Base)",
    {"pelvis": "CC_Base_Pelvis", "spine1": "CC_Base_Waist", "spine2": "CC_Base_Spine01",
     "spine3": "CC_Base_Spine02", "neck": "CC_Base_NeckTwist01", "head": "CC_Base_Head"},
    ("CC_Base_{S}Thigh", "CC_Base_{S}Calf", "CC_Base_{S}Foot", "CC_Base_{S}ToeBase", "CC_Base_{S}Clavicle",
     "CC_Base_{S}Upperarm", "CC_Base_{S}Forearm", "CC_Base_{S}Hand"),
    "L_", "R_", hints=("CC_Base_Hip", "RL_BoneRoot"),
)

PRESETS: dict[str, BoneMapPreset] = {p.name: p for p in (SMPLX, MIXAMO, RIGIFY_DEF, RIGIFY_ORG, RIGIFY_META, CMU_BVH, CC3)}


@dataclass(frozen=True)
class BoneMap:
    """A preset resolved against one rig's bone names."""

    preset: str
    bones: dict[str, str]  # joint -> actual bone name on the rig
    positions: dict[str, Blend]  # joint -> actual (bone, weight) blend; every body joint present

    def position_bones(self) -> list[str]:
        """Every bone whose head is needed to read the 22 joint positions."""
        names: list[str] = []
        for joint in BODY_JOINT_NAMES:
            for bone, _ in self.positions[joint]:
                if bone not in names:
                    names.append(bone)
        return names


def _prefix(preset: BoneMapPreset, bone_names) -> str:
    if not preset.prefixed:
        return ""
    root = preset.bones["pelvis"]
    candidates = sorted(n[: -len(root)] for n in bone_names if n.endswith(root))
    return candidates[0] if candidates else ""


def _needed(preset: BoneMapPreset) -> list[str]:
    names = list(preset.bones.values())
    for blend in preset.positions.values():
        names += [b for b, _ in blend if b not in names]
    return names


def missing_bones(preset: BoneMapPreset, bone_names) -> list[str]:
    names = set(bone_names)
    prefix = _prefix(preset, names)
    return [prefix + b for b in _needed(preset) if prefix + b not in names]


def resolve(preset: BoneMapPreset | str, bone_names) -> BoneMap:
    """Map `preset` onto a rig with `bone_names`; BoneMapError lists every missing bone."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise BoneMapError(f"unknown bone map preset {preset!r}; choose one of {', '.join(PRESETS)}")
        preset = PRESETS[preset]
    names = set(bone_names)
    missing = missing_bones(preset, names)
    if missing:
        raise BoneMapError(f"the rig does not fit the {preset.label} bone map: missing bones {', '.join(missing)}")
    prefix = _prefix(preset, names)
    bones = {j: prefix + b for j, b in preset.bones.items()}
    positions = {j: ((bones[j], 1.0),) for j in BODY_JOINT_NAMES}
    for joint, blend in preset.positions.items():
        positions[joint] = tuple((prefix + b, w) for b, w in blend)
    return BoneMap(preset.name, bones, positions)


def detect(bone_names) -> BoneMapPreset:
    """The preset that matches most of the rig's bones (all of them, or BoneMapError)."""
    names = set(bone_names)

    def hint_count(preset):
        return sum(any(n.endswith(h) for n in names) for h in preset.hints)

    ranked = sorted(PRESETS.values(), key=lambda p: (len(missing_bones(p, names)), -hint_count(p)))
    best = ranked[0]
    missing = missing_bones(best, names)
    if missing:
        raise BoneMapError(
            f"no bone map fits this rig; the closest is {best.label}, which misses {', '.join(missing)}"
        )
    return best


def auto_resolve(bone_names, preset: str = "AUTO") -> BoneMap:
    """`resolve` with a named preset, or the detected one for "AUTO"."""
    if preset == "AUTO":
        return resolve(detect(bone_names), bone_names)
    return resolve(preset, bone_names)
