"""AMASS-style SMPL-X `.npz` motions -> body joint positions on our canonical rest skeleton.

AMASS stores SMPL-X parameters: `trans` (T, 3), the root rotation as `root_orient` (T, 3) or
`poses[:, :3]`, the 21 body joints as `pose_body` (T, 63) or `poses[:, 3:66]` (axis-angle, in the
model's own Y-up frame), and the rate as `mocap_frame_rate` (SMPL-X) or `mocap_framerate`
(SMPL-H). AMASS worlds are already Z up: `root_orient` turns the Y-up model upright.

Our rest skeleton lives in the Z-up frame (the model frame turned +90 degrees about X, matrix Q),
so the same pose is root Q_root = R_root · Qᵀ and locals Q · R_j · Qᵀ. Without the user's licensed
model file the pelvis rest location J0 is not known exactly; SMPL-X neutral's J0 (model frame) is
used so that pelvis = trans + J0 as in SMPL-X.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..body import BODY_JOINT_NAMES, BODY_PARENTS, NUM_BODY_JOINTS, canonical_rest, joint_positions
from ..body.rotations import axis_angle_to_matrix
from ..body.skeleton import Y_UP_TO_Z_UP
from .source import MotionFileError, SourceMotion

# SMPL-X neutral pelvis rest location in the model frame (metres); see module docstring.
SMPLX_PELVIS_REST = np.array([0.0031, -0.3514, 0.0120])


def read_smplx_npz(path, take_id: str | None = None) -> SourceMotion:
    """Read an AMASS-style SMPL-X/SMPL-H `.npz` (no pickle) into a `SourceMotion`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k in
                      ("trans", "root_orient", "pose_body", "poses", "mocap_frame_rate", "mocap_framerate")}
    except (OSError, ValueError) as exc:
        raise MotionFileError(f"{path}: cannot read as a (pickle-free) npz ({exc})") from exc
    if "trans" not in arrays:
        raise MotionFileError(f"{path}: no 'trans' array (not an AMASS motion)")
    trans = np.asarray(arrays["trans"], dtype=np.float64)
    if "root_orient" in arrays and "pose_body" in arrays:
        root, body = arrays["root_orient"], arrays["pose_body"]
    elif "poses" in arrays:
        poses = arrays["poses"]
        if poses.ndim != 2 or poses.shape[1] < 66:
            raise MotionFileError(f"{path}: 'poses' must be (T, >=66), got {poses.shape}")
        root, body = poses[:, :3], poses[:, 3:66]
    else:
        raise MotionFileError(f"{path}: needs 'root_orient' + 'pose_body' or 'poses'")
    T = trans.shape[0]
    if T == 0:
        raise MotionFileError(f"{path}: zero frames")
    if trans.shape != (T, 3) or np.shape(root) != (T, 3) or np.shape(body)[0] != T or np.shape(body)[1] < 63:
        raise MotionFileError(f"{path}: inconsistent shapes trans {trans.shape}, root {np.shape(root)}, body {np.shape(body)}")
    rate_key = "mocap_frame_rate" if "mocap_frame_rate" in arrays else "mocap_framerate"
    if rate_key not in arrays:
        raise MotionFileError(f"{path}: no frame rate ('mocap_frame_rate' or 'mocap_framerate')")
    fps = float(np.asarray(arrays[rate_key]).reshape(-1)[0])
    aa = np.concatenate([np.asarray(root, np.float64)[:, None], np.asarray(body, np.float64)[:, :63].reshape(T, 21, 3)], 1)
    if not (np.isfinite(aa).all() and np.isfinite(trans).all() and np.isfinite(fps) and fps > 0):
        raise MotionFileError(f"{path}: non-finite values or bad frame rate {fps}")

    q = Y_UP_TO_Z_UP
    model_rot = axis_angle_to_matrix(aa)                  # (T, 22, 3, 3) model frame
    local = q @ model_rot @ q.T                            # same rotations in our Z-up rest frame
    local[:, 0] = model_rot[:, 0] @ q.T                    # root: our rest frame -> model -> world
    pelvis = trans + SMPLX_PELVIS_REST
    rest = canonical_rest()
    positions = joint_positions(local, rest.body_offsets, pelvis, BODY_PARENTS)
    return SourceMotion(
        path=str(path),
        take_id=take_id or path.stem,
        skeleton="smplx",
        joint_names=list(BODY_JOINT_NAMES),
        parents=BODY_PARENTS.copy(),
        rest_positions=(rest.positions[:NUM_BODY_JOINTS] - [0, 0, rest.positions[:NUM_BODY_JOINTS, 2].min()]).astype(np.float32),
        positions=positions.astype(np.float32),
        fps=fps,
        meta={"format": "npz", "dropped_tpose": False},
    )
