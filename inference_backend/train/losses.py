"""Reconstruction and consistency losses on decoded primitives (DART sec. 3.2).

The decoder predicts redundant features (rotations, joints, deltas); the consistency terms tie
them together: FK of the predicted rotations must land on the predicted joints, and predicted
deltas must equal the differences of consecutive predicted frames. All terms are mean squared
errors in *normalised* units (differences divided by the feature std), so no term dominates just
because of its physical unit.
"""
from __future__ import annotations

import torch
import torch.nn.functional as Fn

from ..body import forward_kinematics
from ..body.rotations import matrix_to_6d
from ..models.features import FEATURE_SLICES, Normalizer, features_to_pose, split_features


def _std(norm: Normalizer, name: str, shape) -> torch.Tensor:
    return norm.std[FEATURE_SLICES[name]].reshape(shape)


def primitive_losses(pred: torch.Tensor, target: torch.Tensor, history: torch.Tensor, norm: Normalizer,
                     offsets: torch.Tensor) -> dict[str, torch.Tensor]:
    """pred/target (B, F, D) normalised future features; history (B, H, D) normalised.

    Returns rec (feature reconstruction), joints (FK joints vs the ground truth's joints),
    fk_consistency, delta_consistency, and mpjpe (metres, for logging only).
    """
    rec = Fn.smooth_l1_loss(pred, target)
    pred_d = norm.denormalize(pred)
    seq = torch.cat([norm.denormalize(history[:, -1:]), pred_d], dim=1)       # (B, 1+F, D)
    transl, rot, joints = features_to_pose(seq)
    fk_joints = forward_kinematics(rot, offsets, transl)[1]                   # (B, 1+F, 22, 3)
    std_j = _std(norm, "joints", (22, 3))
    gt_joints = split_features(norm.denormalize(target))["joints"]
    joints_loss = (((fk_joints[:, 1:] - gt_joints) / std_j) ** 2).mean()
    fk_consistency = (((fk_joints[:, 1:] - joints[:, 1:]) / std_j) ** 2).mean()
    parts = split_features(pred_d)
    root = rot[:, :, 0]
    d_orient = matrix_to_6d(root[:, 1:] @ root[:, :-1].transpose(-1, -2))
    delta = (((parts["transl_delta"] - (transl[:, 1:] - transl[:, :-1])) / _std(norm, "transl_delta", (3,))) ** 2).mean()
    delta = delta + (((parts["global_orient_delta"] - d_orient) / _std(norm, "global_orient_delta", (6,))) ** 2).mean()
    delta = delta + (((parts["joints_delta"] - (joints[:, 1:] - joints[:, :-1])) / _std(norm, "joints_delta", (22, 3))) ** 2).mean()
    with torch.no_grad():
        mpjpe = torch.linalg.norm(fk_joints[:, 1:] - gt_joints, dim=-1).mean()
    return {"rec": rec, "joints": joints_loss, "fk_consistency": fk_consistency, "delta_consistency": delta,
            "mpjpe": mpjpe}
