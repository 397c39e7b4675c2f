"""How well a generated reaction matches the real reactor, measured relative to the partner.

A reaction can be good without copying the real reactor's absolute path, but where it stands and
faces *relative to the partner*, how the distance between the two evolves, and when they touch
are what an animator judges. All functions take world joints `(T, 22, 3)` (Z up, metres) of the
partner, the generated reactor and the real reactor, over the same frames.

* **Facing** of a body: the horizontal direction perpendicular to the across-body axis, averaged
  over hips and shoulders (right -> left joint), turned so that the rest pose (left = +X) faces
  -Y: `facing = across × z`.
* **Relative position error**: the reactor's pelvis expressed in the partner's facing frame
  (origin = partner pelvis on the floor, axes = partner's facing, left and up); mean Euclidean
  distance between generated and real, metres.
* **Facing error**: the reactor's facing angle relative to the partner's facing, generated vs
  real; mean absolute wrapped difference, degrees.
* **Distance profile**: horizontal pelvis-pelvis distance over time; mean absolute error (m) and
  Pearson correlation between the generated and the real profile (NaN when either is constant).
* **Contact timing**: for joint pairs (reactor joint, partner joint), e.g. right wrist with right
  wrist in a handshake, a frame is *in contact* when the pair is closer than `CONTACT_DISTANCE`
  (0.2 m between wrist joints: hands that clasp hold the wrists ~10-20 cm apart). Onset error =
  |first contact frame generated - real| in seconds (NaN when either never touches; `missed`
  says which); IoU of the contact frame sets (1 when neither touches, as they agree).
"""
from __future__ import annotations

import numpy as np

from ..body import BODY_JOINT_NAMES
from .physics import check_joints

_IDX = {name: i for i, name in enumerate(BODY_JOINT_NAMES)}
PELVIS = _IDX["pelvis"]
CONTACT_DISTANCE = 0.2  # m
HANDSHAKE = (("right_wrist", "right_wrist"),)


def facing_direction(joints) -> np.ndarray:
    """(T, 2) unit horizontal facing direction (the rest pose faces -Y)."""
    joints = check_joints(joints)
    across = (joints[:, _IDX["left_hip"]] - joints[:, _IDX["right_hip"]]
              + joints[:, _IDX["left_shoulder"]] - joints[:, _IDX["right_shoulder"]])
    facing = np.stack([across[:, 1], -across[:, 0]], axis=-1)  # across × z, horizontal part
    norm = np.linalg.norm(facing, axis=-1, keepdims=True)
    return facing / np.maximum(norm, 1e-9)


def facing_angle(joints) -> np.ndarray:
    """(T,) facing direction as an angle about +Z (radians)."""
    f = facing_direction(joints)
    return np.arctan2(f[:, 1], f[:, 0])


def _wrap(angle):
    return (angle + np.pi) % (2 * np.pi) - np.pi


def relative_position(reactor, partner) -> np.ndarray:
    """(T, 3) reactor pelvis in the partner's facing frame: (forward, left, up) metres."""
    reactor, partner = check_joints(reactor, "reactor"), check_joints(partner, "partner")
    forward = facing_direction(partner)
    left = np.stack([-forward[:, 1], forward[:, 0]], axis=-1)  # forward turned +90° about z
    delta = reactor[:, PELVIS] - partner[:, PELVIS]
    return np.stack([(delta[:, :2] * forward).sum(-1), (delta[:, :2] * left).sum(-1), delta[:, 2]], axis=-1)


def relative_facing(reactor, partner) -> np.ndarray:
    """(T,) reactor facing angle minus partner facing angle, wrapped to [-pi, pi)."""
    return _wrap(facing_angle(reactor) - facing_angle(partner))


def pelvis_distance(a, b) -> np.ndarray:
    """(T,) horizontal pelvis-pelvis distance, metres."""
    a, b = check_joints(a, "a"), check_joints(b, "b")
    return np.linalg.norm(a[:, PELVIS, :2] - b[:, PELVIS, :2], axis=-1)


def contact_frames(reactor, partner, pairs=HANDSHAKE, threshold: float = CONTACT_DISTANCE) -> np.ndarray:
    """(T,) bool: any of the (reactor joint, partner joint) name pairs is closer than threshold."""
    reactor, partner = check_joints(reactor, "reactor"), check_joints(partner, "partner")
    for a, b in pairs:
        if a not in _IDX or b not in _IDX:
            raise ValueError(f"contact pair ({a!r}, {b!r}) names a joint that is not a body joint")
    contact = np.zeros(reactor.shape[0], dtype=bool)
    for a, b in pairs:
        contact |= np.linalg.norm(reactor[:, _IDX[a]] - partner[:, _IDX[b]], axis=-1) < threshold
    return contact


def contact_timing(generated, real, partner, fps: float, pairs=HANDSHAKE,
                   threshold: float = CONTACT_DISTANCE) -> dict:
    """Onset error (s) and IoU of the contact intervals, generated vs real (see module doc)."""
    gen = contact_frames(generated, partner, pairs, threshold)
    ref = contact_frames(real, partner, pairs, threshold)
    union = (gen | ref).sum()
    iou = float((gen & ref).sum() / union) if union else 1.0
    if gen.any() and ref.any():
        onset = abs(int(np.argmax(gen)) - int(np.argmax(ref))) / fps
        missed = "none"
    else:
        onset = float("nan")
        missed = "none" if not (gen.any() or ref.any()) else ("generated" if ref.any() else "real")
    return {"onset_error_s": float(onset), "iou": iou, "missed": missed,
            "real_contact": bool(ref.any()), "generated_contact": bool(gen.any())}


def _pearson(x, y) -> float:
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 1e-12 else float("nan")


def interaction_errors(generated, real, partner, fps: float, pairs=HANDSHAKE,
                       threshold: float = CONTACT_DISTANCE) -> dict:
    """All reactor-vs-real-reactor errors relative to the partner, flat for tables."""
    generated = check_joints(generated, "generated")
    real = check_joints(real, "real")
    partner = check_joints(partner, "partner")
    if not (generated.shape == real.shape == partner.shape):
        raise ValueError(f"generated {generated.shape}, real {real.shape} and partner {partner.shape} "
                         "must cover the same frames")
    pos_err = np.linalg.norm(relative_position(generated, partner) - relative_position(real, partner), axis=-1)
    face_err = np.abs(_wrap(relative_facing(generated, partner) - relative_facing(real, partner)))
    d_gen, d_real = pelvis_distance(generated, partner), pelvis_distance(real, partner)
    contact = contact_timing(generated, real, partner, fps, pairs, threshold)
    return {
        "rel_position_error": float(pos_err.mean()),
        "facing_error_deg": float(np.degrees(face_err).mean()),
        "distance_mae": float(np.abs(d_gen - d_real).mean()),
        "distance_corr": _pearson(d_gen, d_real),
        "contact_onset_error_s": contact["onset_error_s"],
        "contact_iou": contact["iou"],
        "contact_missed": contact["missed"],
    }
