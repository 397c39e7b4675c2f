"""Autoregressive text-to-motion rollout with the motion prior (DART's inference loop).

Each step takes the last 1+H poses (one for the deltas, H=2 history frames), canonicalises
them to the first history frame, samples a latent from text + history with the 10-step
denoiser (classifier-free guidance), decodes F=8 future frames, maps them back to world and
appends them. Batched over prompts; deterministic for a seed (one torch.Generator drives all
noise).

A prompt is a text, or a timeline: a list of (text, seconds) pairs, e.g.
[("walk forward", 4), ("turn left", 2)] -- the text in force at a segment's first frame is used.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .body import forward_kinematics
from .models.features import FPS, FUTURE, HISTORY, features_to_pose, primitive_features, to_world
from .models.prior import MotionPrior
from .models.text_encoder import embed_texts
from .runtime.poses import pelvis_above_lowest_joint, standing_rotations

Prompt = str | list[tuple[str, float]]


@dataclass
class Rollout:
    transl: np.ndarray     # (B, T, 3) pelvis world position
    rotations: np.ndarray  # (B, T, 22, 3, 3) local rotations (root = global orientation)
    joints: np.ndarray     # (B, T, 22, 3) world joint positions
    fps: float = FPS


def rest_start(prior: MotionPrior, batch: int, facing: float = 0.0):
    """A standing start repeated for 1+H frames, feet on the floor over the origin: the prior's
    standing pose (`runtime.poses.standing_rotations`: the training data's where the config has
    one). `facing` turns the body about z (radians; 0 faces -y)."""
    offsets = prior.offsets.detach().cpu().numpy()
    c, s = np.cos(facing), np.sin(facing)
    pose = standing_rotations(prior.standing)
    pose[0] = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], np.float32) @ pose[0]
    rot = torch.as_tensor(pose).repeat(batch, 1 + HISTORY, 1, 1, 1)
    transl = torch.zeros(batch, 1 + HISTORY, 3)
    transl[..., 2] = pelvis_above_lowest_joint(offsets, prior.standing)
    return transl, rot


def start_from_motion(transl: np.ndarray, rotations: np.ndarray):
    """The last 1+H frames of a motion as a start (the first frame repeated if it is shorter)."""
    transl = torch.as_tensor(np.asarray(transl), dtype=torch.float32)
    rot = torch.as_tensor(np.asarray(rotations), dtype=torch.float32)
    if transl.ndim != 2 or transl.shape[-1] != 3 or rot.shape != (transl.shape[0], 22, 3, 3) or len(transl) == 0:
        raise ValueError(f"start motion must be transl (T, 3) and rotations (T, 22, 3, 3), got "
                         f"{tuple(transl.shape)} and {tuple(rot.shape)}")
    need = 1 + HISTORY
    if len(transl) < need:
        pad = need - len(transl)
        transl = torch.cat([transl[:1].expand(pad, 3), transl])
        rot = torch.cat([rot[:1].expand(pad, 22, 3, 3), rot])
    return transl[-need:], rot[-need:]


def _text_at(prompt: Prompt, second: float) -> str:
    if isinstance(prompt, str):
        return prompt
    if not prompt:
        raise ValueError("a timeline prompt needs at least one (text, seconds) entry")
    end = 0.0
    for text, seconds in prompt:
        end += float(seconds)
        if second < end:
            return text
    return prompt[-1][0]


@torch.no_grad()
def rollout(prior: MotionPrior, prompts: list[Prompt], seconds: float, seed: int = 0,
            guidance: float | None = None, start=None) -> Rollout:
    """Generate `seconds` of motion per prompt. `start`: None (rest pose) or (transl (B, 1+H, 3),
    rotations (B, 1+H, 22, 3, 3)) world poses. The output begins with the H start frames."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    b, dev = len(prompts), prior.device
    transl, rot = rest_start(prior, b) if start is None else start
    transl, rot = transl.to(dev), rot.to(dev)
    total = max(int(round(seconds * FPS)), HISTORY)
    generator = torch.Generator(device=dev).manual_seed(int(seed))
    out_t, out_r = [transl[:, 1:]], [rot[:, 1:]]
    frames = HISTORY
    cache: dict[str, torch.Tensor] = {}
    while frames < total:
        texts = [_text_at(p, frames / FPS) for p in prompts]
        for t in set(texts) - set(cache):
            cache[t] = torch.as_tensor(embed_texts([t])[0])
        emb = torch.stack([cache[t] for t in texts]).to(dev)
        feats, frame = primitive_features(transl[:, -1 - HISTORY:], rot[:, -1 - HISTORY:], prior.offsets)
        history = prior.normalizer.normalize(feats)
        z = prior.sample_latent(emb, history, guidance, generator)
        future = prior.normalizer.denormalize(prior.decode(z, history))
        ft, fr, _ = features_to_pose(future)
        ft, fr = to_world(frame, ft, fr)
        transl, rot = torch.cat([transl[:, -1 - HISTORY:], ft], 1), torch.cat([rot[:, -1 - HISTORY:], fr], 1)
        out_t.append(ft)
        out_r.append(fr)
        frames += FUTURE
    transl, rot = torch.cat(out_t, 1)[:, :total], torch.cat(out_r, 1)[:, :total]
    joints = forward_kinematics(rot, prior.offsets, transl)[1]
    return Rollout(transl.cpu().numpy(), rot.cpu().numpy(), joints.cpu().numpy())
