"""Optional: the exact SMPL-X body from a user-supplied model file (`SMPLX_NEUTRAL.npz`).

The licensed model file cannot be shipped; users download it themselves. When it is given, the
rest skeleton and the skinned mesh come from the `smplx` package. That package's code carries a
non-commercial licence header, so it is imported lazily, only when a model file is given.

SMPL-X works in a Y-up frame; we work Z-up. Every joint's local rotation converts by
R_yup = C^T R_zup C with C = `Y_UP_TO_Z_UP` (the rest pose has no bone rotations), and our
`transl` is the pelvis world position, whereas SMPL-X adds its `transl` to the rest pelvis
position J0: transl_smplx = C^T transl_ours - J0.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .rotations import axis_angle_to_matrix, matrix_to_axis_angle
from .skeleton import NUM_BODY_JOINTS, NUM_JOINTS, PARENTS, Y_UP_TO_Z_UP, RestSkeleton


class SmplxModelError(ValueError):
    """The SMPL-X model file is missing or not an SMPL-X model."""


def check_plain_npz(path: Path) -> None:
    """Every array of the .npz loads without pickle: `smplx` itself loads with allow_pickle=True,
    and a model file is data, never code, so object arrays are refused before it sees the file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                data[key]
    except ValueError as exc:  # numpy: "Object arrays cannot be loaded when allow_pickle=False"
        raise SmplxModelError(f"{path}: holds Python objects (pickle), not plain arrays: refused ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise SmplxModelError(f"{path}: not a readable .npz file ({exc})") from None


class SmplxBody:
    """A loaded SMPL-X model: exact rest joints and posed vertices, Z-up metres."""

    def __init__(self, model_path: str | Path, betas: np.ndarray | None = None):
        path = Path(model_path)
        if not path.is_file():
            raise SmplxModelError(f"SMPL-X model file not found: {path}")
        if path.suffix != ".npz":
            raise SmplxModelError(f"{path}: expected an SMPL-X .npz model file (e.g. SMPLX_NEUTRAL.npz)")
        check_plain_npz(path)
        try:
            import smplx  # noqa: PLC0415 - lazy on purpose (licence, import cost)
            import torch  # noqa: PLC0415
        except ImportError as exc:
            raise SmplxModelError("the 'smplx' package is needed to use an SMPL-X model file") from exc
        self._torch = torch
        try:
            self.model = smplx.SMPLX(str(path), ext="npz", use_pca=False, flat_hand_mean=True,
                                     num_betas=10, num_expression_coeffs=10, use_face_contour=False)
        except Exception as exc:  # the package raises many kinds on a wrong file
            raise SmplxModelError(f"{path}: not a usable SMPL-X model file ({exc})") from exc
        self.betas = np.zeros(10, np.float32) if betas is None else np.asarray(betas, np.float32)
        with torch.no_grad():
            out = self.model(betas=torch.as_tensor(self.betas)[None], return_verts=True)
        self.rest_joints_yup = out.joints[0, :NUM_JOINTS].numpy().astype(np.float64)  # (55, 3)

    @property
    def faces(self) -> np.ndarray:
        return np.asarray(self.model.faces, dtype=np.int64)

    def rest_skeleton(self) -> RestSkeleton:
        """The exact rest skeleton of this body (offsets from the parent, Z-up)."""
        joints = self.rest_joints_yup @ Y_UP_TO_Z_UP.T
        offsets = joints - np.where(PARENTS[:, None] >= 0, joints[np.maximum(PARENTS, 0)], joints)
        offsets[0] = 0.0
        return RestSkeleton(offsets, source="smplx-model")

    def vertices(self, transl: np.ndarray, global_orient: np.ndarray, body_pose: np.ndarray) -> np.ndarray:
        """Posed mesh vertices (T, V, 3) in our Z-up world from our parameters.

        transl (T, 3) pelvis world position; global_orient (T, 3) and body_pose (T, 63)
        axis-angle in our Z-up frame. Hands, jaw and eyes keep the rest pose.
        """
        torch = self._torch
        frames = transl.shape[0]
        aa = np.concatenate([global_orient.reshape(frames, 1, 3), body_pose.reshape(frames, NUM_BODY_JOINTS - 1, 3)], 1)
        c = Y_UP_TO_Z_UP
        rot_yup = c.T @ axis_angle_to_matrix(aa.astype(np.float64)) @ c
        aa_yup = matrix_to_axis_angle(rot_yup).astype(np.float32)
        with torch.no_grad():
            out = self.model(
                betas=torch.as_tensor(self.betas)[None].expand(frames, -1),
                global_orient=torch.as_tensor(aa_yup[:, 0]),
                body_pose=torch.as_tensor(aa_yup[:, 1:].reshape(frames, -1)),
                transl=torch.zeros(frames, 3),
                jaw_pose=torch.zeros(frames, 3), leye_pose=torch.zeros(frames, 3),
                reye_pose=torch.zeros(frames, 3), left_hand_pose=torch.zeros(frames, 45),
                right_hand_pose=torch.zeros(frames, 45), expression=torch.zeros(frames, 10),
                return_verts=True,
            )
        verts_yup = out.vertices.numpy().astype(np.float64) - self.rest_joints_yup[0]
        return (verts_yup @ c.T + transl[:, None, :]).astype(np.float32)
