"""How faithfully the retarget reproduces a source take: the data issue's acceptance numbers.

Per take: the angle between every canonical bone and the source direction it follows (mean and
max over bones and frames), the foot height at detected contacts, and whether anything is not
finite. `python -m inference_backend.data check` prints these per skeleton kind (and writes
docs/retarget.md); tests/test_retarget.py asserts them on the real files.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..body import RestSkeleton
from ..body import JOINT_INDEX
from .bonemaps import bone_map_for
from .resample import lerp_frames, sample_times
from .retarget import MAPPED_BONES, direction_errors, foot_contacts, mapped_points, retarget
from .source import SourceMotion

MAX_MEAN_DEG, MAX_DEG, MAX_CONTACT_M = 3.0, 10.0, 0.03

HOW_TO_READ = """\
How to read it. The retarget copies bone *directions*, not positions (the canonical body has its
own bone lengths, measured from the data): every joint rotation is solved so that its bone
points where the source's mapped bone points, so the direction errors are zero up to rounding.
What that costs is elsewhere and is shown in the last columns:

* Bone lengths are the canonical ones; strides are scaled by the leg-length ratio and the clip
  is shifted so the feet rest on z = 0 at contacts (foot-height column).
* The SMPL-X pelvis is a rigid triangle (pelvis and both hips) with the lower back leaving it at
  a fixed angle. Where a source bends sideways at the waist further than that shape allows, the
  canonical pelvis rolls over the hips instead (both hip bones and the lower back still point
  right, the hip line tilts): the "pelvis roll" column is the angle between the canonical and
  the source hip line. It is about a degree in most frames and reaches 30 degrees only in
  climbing and dance takes.
* The source's pelvis and clavicle joints are not where SMPL-X has them (CMU's root sits on the
  hip line, SMPL-X's pelvis 13 cm above it), so those points are placed on the canonical
  pelvis and chest shape in the source's own pelvis and chest frames (`retarget.body_points`);
  the three spine points are then spread along the source spine from that pelvis to the neck.

A picture of a retargeted pair beside its source: `python -m inference_backend.data show 18_01`
(docs/retarget_18_01.png)."""


@dataclass
class TakeQuality:
    key: str
    skeleton: str
    frames: int
    mean_deg: float
    max_deg: float
    worst_bone: str
    contact_height_m: float      # median |foot height| over frames with a foot in contact
    contacts: int                # foot-frames in contact
    finite: bool
    hip_roll_deg: np.ndarray     # per frame: canonical hip line vs the source's (the pelvis rolls in side bends)

    def problems(self) -> list[str]:
        out = []
        if not self.finite:
            out.append("NaN or infinite values")
        if self.mean_deg > MAX_MEAN_DEG:
            out.append(f"mean direction error {self.mean_deg:.2f} deg > {MAX_MEAN_DEG}")
        if self.max_deg > MAX_DEG:
            out.append(f"max direction error {self.max_deg:.2f} deg ({self.worst_bone}) > {MAX_DEG}")
        if not self.contacts:
            out.append("no foot contacts detected")
        elif self.contact_height_m > MAX_CONTACT_M:
            out.append(f"feet {100 * self.contact_height_m:.1f} cm off the floor at contacts")
        return out


def measure(key: str, src: SourceMotion, rest: RestSkeleton) -> TakeQuality:
    m = retarget(src, rest)
    finite = bool(np.isfinite(m.rotations).all() and np.isfinite(m.transl).all())
    err = direction_errors(src, m, rest)
    per_bone = np.stack([err[b] for b in MAPPED_BONES])          # (bones, T)
    height, contact = foot_contacts(m.joints(rest).astype(np.float64), m.fps)
    # median, not max: takes such as 03_03 ("walk on uneven terrain") step onto raised ground
    contact_height = float(np.median(np.abs(height[contact]))) if contact.any() else float("nan")
    return TakeQuality(key, src.skeleton, m.num_frames, float(per_bone.mean()), float(per_bone.max()),
                       MAPPED_BONES[int(per_bone.max(axis=1).argmax())], contact_height, int(contact.sum()), finite,
                       hip_roll(src, m, rest))


def hip_roll(src: SourceMotion, motion, rest: RestSkeleton) -> np.ndarray:
    """(T,) degrees between the canonical hip line and the source's hip line, per motion frame."""
    left, right = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]
    coords = sample_times(src.num_frames, src.fps, motion.fps)[: motion.num_frames]
    bmap = bone_map_for(src.skeleton, src.joint_names, src.parents)
    points = mapped_points(lerp_frames(src.positions.astype(np.float64), coords), src.joint_names, bmap)
    joints = motion.joints(rest).astype(np.float64)[: len(coords)]
    a, b = joints[:, left] - joints[:, right], points[:, left] - points[:, right]
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(cos.clip(-1.0, 1.0)))


def table(rows: list[TakeQuality]) -> str:
    """Markdown table, one line per skeleton kind and one for all takes."""
    groups: dict[str, list[TakeQuality]] = defaultdict(list)
    for r in rows:
        groups[r.skeleton].append(r)
    lines = ["| skeleton | takes | frames (30 fps) | direction error mean / worst take's mean / max (deg) "
             "| bone with the max | foot height at contacts, median / worst take (cm) "
             "| pelvis roll p50 / p99 / max (deg) | takes failing |",
             "|---|---|---|---|---|---|---|---|"]
    for name, group in sorted(groups.items()) + [("all", rows)]:
        worst = max(group, key=lambda r: r.max_deg)
        heights = np.array([r.contact_height_m for r in group if r.contacts])
        roll = np.concatenate([r.hip_roll_deg for r in group])
        lines.append(
            f"| {name} | {len(group)} | {sum(r.frames for r in group)} "
            f"| {np.mean([r.mean_deg for r in group]):.4f} / {max(r.mean_deg for r in group):.4f} / {worst.max_deg:.4f} "
            f"| {worst.worst_bone} ({worst.key}) "
            f"| {100 * np.median(heights):.2f} / {100 * heights.max():.2f} "
            f"| {np.percentile(roll, 50):.1f} / {np.percentile(roll, 99):.1f} / {roll.max():.1f} "
            f"| {sum(1 for r in group if r.problems())} |")
    return "\n".join(lines)
