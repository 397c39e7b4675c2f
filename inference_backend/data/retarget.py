"""Retarget source mocap (global joint positions) onto the canonical SMPL-X body.

The canonical body has its own bone lengths, so we copy bone *directions*, not positions:
per frame, each joint's global rotation is chosen so its bone to the child points where the
source's mapped bone points (see `bonemaps`). Joints need a second direction to fix the twist
about the bone; we take it from the source where it is meaningful:

- pelvis: the lower back (pelvis -> spine1) and the two hip bones;
- spine3: the neck bone and the shoulder line; spine1/2 blend hip and shoulder lines so a
  torso twist is spread over the spine;
- hips and shoulders: the knee/elbow hinge axis (thigh x shin, upper arm x forearm), so a bent
  knee or elbow is a pure hinge and limbs never spin; near-straight limbs fall back smoothly to
  the smallest rotation from the parent's frame;
- every other single-child joint: the smallest rotation from the parent's frame;
- leaves (head, feet, wrists): a source direction, e.g. head -> head end site (bonemaps.Leaf).

The pelvis and the two collars are rigid parts of the canonical pelvis and chest, and a source
skeleton puts its own pelvis and clavicle joints elsewhere (CMU's root sits on the hip line,
SMPL-X's pelvis 13 cm above it). So `place_structural_points` puts those three source points
where the canonical body has them in the source's own pelvis and chest frames (scaled by hip and
shoulder width): the pelvis -> hip and chest -> collar bones then point as the source's hips and
shoulders require, and every bone of the 22-joint body follows a source direction.

The root translation follows the source hip centre, scaled by the leg-length ratio so strides
fit the canonical legs, and the clip is shifted vertically so the feet rest at z = 0 when they
are in contact with the ground.
"""
from __future__ import annotations

import numpy as np

from ..body import BODY_JOINT_NAMES, BODY_PARENTS, JOINT_INDEX, RestSkeleton, canonical_rest
from ..body.rotations import rotation_between
from ..body.skeleton import offsets_to_positions
from .bonemaps import SPINE_FRACTIONS, BoneMap, Chain, Lerp, Point, bone_map_for
from .motion import Motion
from .resample import lerp_frames, resample, sample_times
from .source import MotionFileError, SourceMotion

J = JOINT_INDEX
BODY_CHILDREN = {j: [c for c in range(22) if BODY_PARENTS[c] == j] for j in range(22)}
# Every bone of the body, named by its child joint; each follows a source direction.
MAPPED_BONES = tuple(BODY_JOINT_NAMES[1:])
# Hinge axes of knees and elbows in the rest pose (body faces -Y, left is +X):
# flexing moves the shin back (+Y) and the forearm forward (-Y).
HINGE_REST = {"left_hip": (1.0, 0.0, 0.0), "right_hip": (1.0, 0.0, 0.0),
              "left_shoulder": (0.0, 0.0, -1.0), "right_shoulder": (0.0, 0.0, 1.0)}
MIN_FRAMES = 2


# --- source points ---------------------------------------------------------------------------------

def eval_point(p: Point, positions: np.ndarray, index: dict[str, int]) -> np.ndarray:
    """(T, 3) world positions of a bone-map point."""
    if isinstance(p, str):
        return positions[:, index[p]]
    if isinstance(p, Lerp):
        return (1.0 - p.t) * positions[:, index[p.a]] + p.t * positions[:, index[p.b]]
    return along_chain(np.stack([positions[:, index[n]] for n in p.joints], axis=1), p.t)


def along_chain(pts: np.ndarray, t: float) -> np.ndarray:
    """(T, 3) the point at fraction t of the arc length of a polyline of K points (T, K, 3)."""
    seg = np.linalg.norm(np.diff(pts, axis=1), axis=-1)                 # (T, K-1)
    cum = np.concatenate([np.zeros((len(pts), 1)), np.cumsum(seg, axis=1)], axis=1)
    target = cum[:, -1:] * t
    k = np.clip((cum[:, 1:] < target).sum(axis=1), 0, len(pts[0]) - 2)  # segment index per frame
    rows = np.arange(len(pts))
    s0, length = cum[rows, k], np.maximum(seg[rows, k], 1e-9)
    w = ((target[:, 0] - s0) / length).clip(0.0, 1.0)[:, None]
    return pts[rows, k] * (1.0 - w) + pts[rows, k + 1] * w


def mapped_points(positions: np.ndarray, joint_names: list[str], bmap: BoneMap) -> np.ndarray:
    """(T, 22, 3) the 22 SMPL-X joints' positions on the source skeleton."""
    index = {n: i for i, n in enumerate(joint_names)}
    return np.stack([eval_point(bmap.points[n], positions, index) for n in BODY_JOINT_NAMES], axis=1)


def pelvis_frame(points: np.ndarray, rest_pos: np.ndarray) -> np.ndarray:
    """(T, 3, 3) pelvis rotation: the lower back (pelvis -> spine1) exactly, and the two hip bones'
    unit directions as close as possible (exact once `place_structural_points` placed the pelvis)."""
    def across(p):
        return _unit(p[..., J["left_hip"], :] - p[..., 0, :]) - _unit(p[..., J["right_hip"], :] - p[..., 0, :])
    return align_two(rest_pos[J["spine1"]] - rest_pos[0], across(rest_pos),
                     points[:, J["spine1"]] - points[:, 0], across(points))


def chest_frame(points: np.ndarray, rest_pos: np.ndarray) -> np.ndarray:
    """(T, 3, 3) spine3 rotation: the neck bone exactly, the shoulder line in its plane."""
    return align_two(rest_pos[J["neck"]] - rest_pos[J["spine3"]],
                     rest_pos[J["left_shoulder"]] - rest_pos[J["right_shoulder"]],
                     points[:, J["neck"]] - points[:, J["spine3"]],
                     points[:, J["left_shoulder"]] - points[:, J["right_shoulder"]])


def spine_from_pelvis(pelvis: np.ndarray, chain: np.ndarray, keep: list[int] | None = None
                      ) -> tuple[dict[str, np.ndarray], list[int]]:
    """spine1/2/3 at the canonical fractions of the arc from the (placed) pelvis up the source spine,
    and the chain joints used.

    chain (T, K, 3): the source spine joints, root first, neck last. Joints that sit below the
    pelvis point along the torso (a root on the hip line, a waist joint under the SMPL-X pelvis)
    are left out, decided once per take (or passed in) so the polyline is the same in every frame."""
    top = chain[:, -1]
    if keep is None:
        axis = _unit(top - pelvis)
        height = np.median(np.sum((chain[:, 1:-1] - pelvis[:, None]) * axis[:, None], axis=-1), axis=0)
        keep = [k + 1 for k in range(chain.shape[1] - 2) if height[k] > 0.02]
    pts = np.concatenate([pelvis[:, None], chain[:, keep], top[:, None]], axis=1)
    return {name: along_chain(pts, t) for name, t in SPINE_FRACTIONS.items()}, keep


def _place_pelvis(points: np.ndarray, rest_pos: np.ndarray, spine_chain: np.ndarray | None,
                  iterations: int = 12) -> np.ndarray:
    """(T, 22, 3) points with the pelvis (and spine, given the chain) placed; see below.

    The canonical pelvis is a rigid triangle (pelvis, left hip, right hip) plus the lower back
    (pelvis -> spine1). It fits the source's two hips with both hip bones pointing exactly right
    whenever the triangle's plane contains the source hip line, which leaves two angles per
    frame: the tilt phi about the hip line and the roll beta about the triangle's normal (the
    pelvis rolling over the hips, as in a side bend). For each pair the pelvis point is where
    the two hip bones meet; Newton's method then finds the pair at which the lower back, measured
    from that pelvis point, also leaves the pelvis in the canonical direction."""
    out = points.copy()
    lh, rh = points[:, J["left_hip"]], points[:, J["right_hip"]]
    hip_mid, x = 0.5 * (lh + rh), _unit(lh - rh)
    torso = points[:, J["neck"]] - hip_mid
    e2 = _unit(torso - np.sum(torso * x, -1, keepdims=True) * x)      # torso up, across the hip line
    e3 = np.cross(x, e2)
    rest_frame = _frame(rest_pos[J["left_hip"]] - rest_pos[J["right_hip"]], np.array([0.0, 0.0, 1.0]))
    a_left, a_right, back_rest = (rest_frame.T @ (rest_pos[J[n]] - rest_pos[0]) for n in ("left_hip", "right_hip", "spine1"))
    normal = _unit(np.cross(a_left - a_right, a_left + a_right))     # of the triangle (local)
    target = np.array([np.arctan2(back_rest[2], back_rest[1]), np.arctan2(back_rest[0], np.hypot(back_rest[1], back_rest[2]))])
    keep = None

    def place(q):
        """Residual (T, 2) of the lower back's direction (tilt, side angle) for angles q (T, 2)."""
        nonlocal keep
        phi, beta = q[:, :1], q[:, 1:]
        up0 = np.cos(phi) * e2 + np.sin(phi) * e3
        M0 = np.stack([x, up0, np.cross(x, up0)], axis=-1)               # (T, 3, 3) tilt only
        n = M0 @ normal                                                  # the triangle's normal
        M = (np.cos(beta)[..., None] * M0 + np.sin(beta)[..., None] * np.cross(n[:, :, None], M0, axis=1)
             + (1.0 - np.cos(beta))[..., None] * n[:, :, None] * np.sum(n[:, :, None] * M0, axis=1, keepdims=True))
        u_left, u_right = M @ a_left, M @ a_right
        A = np.stack([u_left, -u_right], axis=-1)                         # (T, 3, 2)
        lam = np.linalg.solve(np.swapaxes(A, 1, 2) @ A, np.swapaxes(A, 1, 2) @ (lh - rh)[..., None])[..., 0]
        out[:, 0] = lh - lam[:, :1] * u_left
        if spine_chain is not None:
            spine, keep = spine_from_pelvis(out[:, 0], spine_chain, keep)
            for name, pt in spine.items():
                out[:, J[name]] = pt
        v = (np.swapaxes(M, 1, 2) @ (out[:, J["spine1"]] - out[:, 0])[..., None])[..., 0]
        got = np.stack([np.arctan2(v[:, 2], v[:, 1]), np.arctan2(v[:, 0], np.hypot(v[:, 1], v[:, 2]))], -1)
        return np.angle(np.exp(1j * (got - target)))

    q = np.zeros((len(points), 2))
    eps, eye = 1e-5, np.eye(2)
    for _ in range(iterations):
        r = place(q)
        jac = np.stack([(place(q + eps * eye[k]) - r) / eps for k in range(2)], axis=-1)   # (T, 2, 2)
        jt = np.swapaxes(jac, 1, 2)
        step = -np.linalg.solve(jt @ jac + 1e-6 * eye, jt @ r[..., None])[..., 0]
        q = q + step.clip(-0.3, 0.3)
        q[:, 0], q[:, 1] = q[:, 0].clip(-1.4, 1.4), q[:, 1].clip(-1.0, 1.0)
    place(q)
    return out


def place_structural_points(points: np.ndarray, rest: RestSkeleton, spine_chain: np.ndarray | None = None
                            ) -> np.ndarray:
    """(T, 22, 3) mapped points with the pelvis and collars moved to where the canonical body has
    them, in the source's pelvis frame (hip line + lower back) and chest frame (neck + shoulder
    line), scaled per frame by the source's hip and shoulder width. With the source's spine chain
    (T, K, 3), the three spine points are spread from the placed pelvis up to the neck."""
    rest_pos = offsets_to_positions(rest.body_offsets.astype(np.float64), BODY_PARENTS)
    out = _place_pelvis(points, rest_pos, spine_chain)
    R = chest_frame(out, rest_pos)
    ls, rs = points[:, J["left_shoulder"]], points[:, J["right_shoulder"]]
    chest_scale = np.linalg.norm(ls - rs, axis=-1) / np.linalg.norm(
        rest_pos[J["left_shoulder"]] - rest_pos[J["right_shoulder"]])
    for side in ("left_collar", "right_collar"):
        offset = rest_pos[J[side]] - rest_pos[J["spine3"]]
        out[:, J[side]] = out[:, J["spine3"]] + chest_scale[:, None] * (R @ offset)
    return out


def body_points(positions: np.ndarray, joint_names: list[str], bmap: BoneMap, rest: RestSkeleton) -> np.ndarray:
    """(T, 22, 3) the points whose bone directions the canonical body reproduces: the bone map's
    points with the pelvis, spine and collars placed by `place_structural_points`."""
    index = {n: i for i, n in enumerate(joint_names)}
    spec = bmap.points["spine1"]
    chain = None
    if isinstance(spec, Chain):
        chain = np.stack([positions[:, index[n]] for n in spec.joints], axis=1)
    return place_structural_points(mapped_points(positions, joint_names, bmap), rest, chain)


def leaf_vectors(positions, joint_names, bmap: BoneMap) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    index = {n: i for i, n in enumerate(joint_names)}
    out = {}
    for name, leaf in bmap.leaves.items():
        a, b = (eval_point(p, positions, index) for p in leaf.direction)
        sec = None
        if leaf.secondary is not None:
            c, d = (eval_point(p, positions, index) for p in leaf.secondary)
            sec = d - c
        out[name] = (b - a, sec)
    return out


# --- rotation solving ------------------------------------------------------------------------------

def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Orthonormal frame (..., 3, 3) with columns [a, b orthogonalised to a, a x b]."""
    e1 = _unit(a)
    b = b - np.sum(b * e1, axis=-1, keepdims=True) * e1
    e2 = _unit(b)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


def align_two(a_rest, b_rest, a_src, b_src) -> np.ndarray:
    """Rotation taking a_rest exactly onto a_src and b_rest as close as possible to b_src."""
    a_rest, b_rest = np.broadcast_arrays(np.asarray(a_rest, float), np.asarray(b_rest, float))
    f_rest = _frame(a_rest, b_rest)
    return _frame(a_src, b_src) @ np.swapaxes(f_rest, -1, -2)


def _swing(parent_rot: np.ndarray, rest_dir, target: np.ndarray) -> np.ndarray:
    """Smallest rotation after the parent's frame that points rest_dir along target."""
    current = parent_rot @ np.asarray(rest_dir, float)
    return rotation_between(current, target) @ parent_rot


def _hinge_side(parent_rot, rest_dir, hinge_rest, bone, next_bone) -> np.ndarray:
    """Source hinge axis of a bent limb, blended into the minimal-twist axis as the limb straightens."""
    normal = np.cross(bone, next_bone)
    sin = np.linalg.norm(normal, axis=-1) / np.maximum(
        np.linalg.norm(bone, axis=-1) * np.linalg.norm(next_bone, axis=-1), 1e-9)
    w = ((sin - 0.1) / 0.2).clip(0.0, 1.0)[:, None]
    fallback = _swing(parent_rot, rest_dir, bone) @ np.asarray(hinge_rest, float)
    side = w * _unit(normal) + (1.0 - w) * fallback
    bad = np.linalg.norm(side - np.sum(side * _unit(bone), -1, keepdims=True) * _unit(bone), axis=-1) < 1e-3
    return np.where(bad[:, None], fallback, side)


def solve_global_rotations(points: np.ndarray, leaves: dict, rest: RestSkeleton, bmap: BoneMap) -> np.ndarray:
    """(T, 22, 3, 3) global joint rotations reproducing the mapped bone directions."""
    offs = rest.body_offsets.astype(np.float64)
    rest_pos = offsets_to_positions(offs, BODY_PARENTS)
    T = points.shape[0]
    G = np.zeros((T, 22, 3, 3))

    def bone(c):
        return points[:, c] - points[:, BODY_PARENTS[c]]

    hip_line = points[:, J["left_hip"]] - points[:, J["right_hip"]]
    shoulder_line = points[:, J["left_shoulder"]] - points[:, J["right_shoulder"]]

    G[:, 0] = pelvis_frame(points, rest_pos)
    for j in range(1, 22):
        name = BODY_JOINT_NAMES[j]
        gp = G[:, BODY_PARENTS[j]]
        kids = BODY_CHILDREN[j]
        if name == "spine3":
            G[:, j] = chest_frame(points, rest_pos)
        elif name in ("spine1", "spine2"):
            w = 1.0 / 3.0 if name == "spine1" else 2.0 / 3.0
            side = (1 - w) * _unit(hip_line) + w * _unit(shoulder_line)
            c = kids[0]
            G[:, j] = align_two(offs[c], (1.0, 0.0, 0.0), bone(c), side)
        elif name in HINGE_REST:
            c = kids[0]
            side = _hinge_side(gp, offs[c], HINGE_REST[name], bone(c), bone(BODY_CHILDREN[c][0]))
            G[:, j] = align_two(offs[c], HINGE_REST[name], bone(c), side)
        elif kids:
            G[:, j] = _swing(gp, offs[kids[0]], bone(kids[0]))
        elif name in leaves:
            direction, secondary = leaves[name]
            leaf = bmap.leaves[name]
            if secondary is None:
                G[:, j] = _swing(gp, leaf.rest_direction, direction)
            else:
                G[:, j] = align_two(leaf.rest_direction, leaf.rest_secondary, direction, secondary)
        else:
            G[:, j] = gp
    return G


def to_local(G: np.ndarray) -> np.ndarray:
    local = np.empty_like(G)
    local[:, 0] = G[:, 0]
    for j in range(1, 22):
        local[:, j] = np.swapaxes(G[:, BODY_PARENTS[j]], -1, -2) @ G[:, j]
    return local


# --- translation and floor -------------------------------------------------------------------------

def leg_length(points: np.ndarray) -> float:
    """Median hip-knee-ankle length (both legs averaged) of mapped points (T, 22, 3)."""
    total = 0.0
    for side in ("left", "right"):
        h, k, a = (points[:, J[f"{side}_{n}"]] for n in ("hip", "knee", "ankle"))
        total += np.median(np.linalg.norm(h - k, axis=-1) + np.linalg.norm(k - a, axis=-1))
    return total / 2.0


def rest_leg_length(rest: RestSkeleton) -> float:
    o = rest.body_offsets
    return float(np.mean([np.linalg.norm(o[J[f"{s}_knee"]]) + np.linalg.norm(o[J[f"{s}_ankle"]])
                          for s in ("left", "right")]))


def foot_contacts(joints: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-foot height (T, 2) (lowest of ankle and toe joint) and contact mask (T, 2): feet that are
    low (within 5 cm of the clip's low level) and slow (< 0.3 m/s)."""
    feet = []
    for side in ("left", "right"):
        a, t = joints[:, J[f"{side}_ankle"]], joints[:, J[f"{side}_foot"]]
        feet.append((np.minimum(a[:, 2], t[:, 2]), t))
    height = np.stack([f[0] for f in feet], axis=1)
    speed = np.stack([np.linalg.norm(np.gradient(f[1], axis=0), axis=-1) * fps for f in feet], axis=1)
    low_level = np.percentile(height, 5)
    contact = (height < low_level + 0.05) & (speed < 0.3)
    return height, contact


def floor_offset(joints: np.ndarray, fps: float) -> float:
    """Height of the feet in contact with the floor (median), the value to subtract from z."""
    height, contact = foot_contacts(joints, fps)
    if contact.sum() >= 3:
        return float(np.median(height[contact]))
    return float(np.percentile(height, 5))


# --- the entry point ---------------------------------------------------------------------------------

def check_source(src: SourceMotion) -> None:
    where = src.path or src.take_id
    if src.num_frames < MIN_FRAMES:
        raise MotionFileError(f"{where}: the take has {src.num_frames} frame(s); at least {MIN_FRAMES} are needed")
    if not np.isfinite(src.positions).all():
        raise MotionFileError(f"{where}: joint positions contain NaN or infinite values")
    if not (src.fps > 0 and np.isfinite(src.fps)):
        raise MotionFileError(f"{where}: invalid frame rate {src.fps}")


def retarget(src: SourceMotion, rest: RestSkeleton | None = None, target_fps: float = 30.0,
             text: str = "", floor: bool = True) -> Motion:
    """The source take on the canonical body at `target_fps` (see the module docstring)."""
    check_source(src)
    rest = rest or canonical_rest()
    bmap = bone_map_for(src.skeleton, src.joint_names, src.parents, where=src.path or src.take_id)
    positions = src.positions.astype(np.float64)
    points = body_points(positions, src.joint_names, bmap, rest)
    G = solve_global_rotations(points, leaf_vectors(positions, src.joint_names, bmap), rest, bmap)

    scale = rest_leg_length(rest) / max(leg_length(points), 1e-6)
    hip_mid = 0.5 * (points[:, J["left_hip"]] + points[:, J["right_hip"]])
    scaled = hip_mid.copy()
    scaled[:, :2] = hip_mid[0, :2] + scale * (hip_mid[:, :2] - hip_mid[0, :2])
    scaled[:, 2] = scale * hip_mid[:, 2]
    rest_hip_mid = 0.5 * (rest.body_offsets[J["left_hip"]] + rest.body_offsets[J["right_hip"]])
    transl = scaled - G[:, 0] @ rest_hip_mid

    motion = Motion(src.take_id, float(src.fps), transl.astype(np.float32), to_local(G).astype(np.float32),
                    text=text, skeleton=src.skeleton,
                    meta={"source": src.path, "source_fps": float(src.fps), "source_frames": src.num_frames,
                          "scale": float(scale), "bone_map": bmap.kind})
    motion = resample(motion, target_fps)
    if floor:
        dz = floor_offset(motion.joints(rest), motion.fps)
        motion.transl = motion.transl - np.float32([0.0, 0.0, dz])
        motion.meta["floor_shift"] = float(-dz)
    motion.validate()
    return motion


# --- measuring -------------------------------------------------------------------------------------

def take_bone_lengths(src: SourceMotion) -> dict[str, float]:
    """Median length of each mapped bone of one take (named by the bone's child joint).

    Pelvis -> hip bones are rigid in the pelvis and their direction differs between skeleton
    kinds, so their length is set from the hip *width* (template length x width ratio)."""
    bmap = bone_map_for(src.skeleton, src.joint_names, src.parents, where=src.path or src.take_id)
    points = mapped_points(src.positions.astype(np.float64), src.joint_names, bmap)
    out = {}
    for c in range(1, 22):
        out[BODY_JOINT_NAMES[c]] = float(np.median(np.linalg.norm(points[:, c] - points[:, BODY_PARENTS[c]], axis=-1)))
    tmpl = RestSkeleton.template()
    width = np.median(np.linalg.norm(points[:, J["left_hip"]] - points[:, J["right_hip"]], axis=-1))
    tmpl_width = np.linalg.norm(tmpl.offsets[J["left_hip"]] - tmpl.offsets[J["right_hip"]])
    for side in ("left_hip", "right_hip"):
        out[side] = float(np.linalg.norm(tmpl.offsets[J[side]]) * width / tmpl_width)
    return out


def measure_bone_lengths(sources) -> dict[str, float]:
    """Median bone lengths over many takes (an iterable of SourceMotion or of per-take length dicts),
    made left/right symmetric so mirrored motions fit the same skeleton."""
    per_take = [s if isinstance(s, dict) else take_bone_lengths(s) for s in sources]
    if not per_take:
        raise ValueError("measure_bone_lengths: no takes given")
    med = {n: float(np.median([t[n] for t in per_take])) for n in per_take[0]}
    for n in list(med):
        if n.startswith("left_"):
            r = "right_" + n[5:]
            med[n] = med[r] = 0.5 * (med[n] + med[r])
    return med


def direction_errors(src: SourceMotion, motion: Motion, rest: RestSkeleton | None = None) -> dict[str, np.ndarray]:
    """Per-bone angle (degrees, one value per motion frame) between the canonical bone and the
    source's mapped bone, the source sampled at the motion's frame times."""
    rest = rest or canonical_rest()
    bmap = bone_map_for(src.skeleton, src.joint_names, src.parents, where=src.path or src.take_id)
    coords = sample_times(src.num_frames, src.fps, motion.fps)[: motion.num_frames]
    points = body_points(lerp_frames(src.positions.astype(np.float64), coords), src.joint_names, bmap, rest)
    joints = motion.joints(rest).astype(np.float64)[: len(coords)]
    out = {}
    for c in range(1, 22):
        a = joints[:, c] - joints[:, BODY_PARENTS[c]]
        b = points[:, c] - points[:, BODY_PARENTS[c]]
        cos = np.sum(_unit(a) * _unit(b), axis=-1).clip(-1.0, 1.0)
        out[BODY_JOINT_NAMES[c]] = np.degrees(np.arccos(cos))
    return out
