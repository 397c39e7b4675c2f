"""Train the text-motion evaluator on the TRAIN split (contrastive, InfoNCE), monitored on VAL.

    python -m inference_backend.eval.train_evaluator [--cache DIR] [--steps N] [--out assets/evaluator]

Losses: InfoNCE between motions and texts; a reconstruction of the window from its embedding
(`WindowDecoder`, training only, TMR-style) so the embedding keeps the dynamics; and corrupted
copies of real windows (`corrupt`: jitter, or a pose held over part or all of the window) as
hard negatives that no text may prefer over a real motion and that must match a learned
"implausible" anchor instead, so implausible motion lands away from the real data and FID
notices it. The decoder and the anchor are training-only; they do not ship. Each step draws a batch of random 2 s windows from the train takes (a take with probability
proportional to its number of windows, a uniformly random start; mirrored left/right with
probability 1/2 unless the text says "left" or "right"). CMU texts repeat across takes, so the
loss is InfoNCE over the *distinct* texts of the batch: motion -> text is a cross-entropy over
those texts, text -> motion spreads its target evenly over every motion with that text. Every
`--eval-every` steps the model is scored by R-precision (batch 32) on fixed val windows (a
record, not a selection: val is small and the curve flat after a few hundred steps; the final
state ships). The test split is never read here.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..models.text_encoder import embed_texts_cached
from ..paths import default_cache_dir
from .evaluator import EVALUATOR_DIR, FEATURE_DIM, WINDOW, Evaluator, window_features
from .metrics import r_precision
from .samples import Take, load_takes, mirror, take_windows


def _sample_batch(takes: list[Take], text_ids: np.ndarray, mirrorable: np.ndarray, size: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array([len(t.joints) - WINDOW + 1 for t in takes], dtype=np.float64)
    pick = rng.choice(len(takes), size=size, p=counts / counts.sum())
    out = np.empty((size, WINDOW, 22, 3), np.float32)
    for b, k in enumerate(pick):
        s = rng.integers(0, counts[k])
        w = takes[k].joints[s:s + WINDOW]
        out[b] = mirror(w) if mirrorable[k] and rng.random() < 0.5 else w
    return out, text_ids[pick]


def corrupt(windows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Implausible copies of real windows, the evaluator's hard negatives. Each window gets one of:
    jitter (Gaussian noise of 0.5-5 cm on every joint over a random span of >= 15 frames), a
    partial freeze (one pose held over a random span of >= 15 frames), or a full freeze (one
    random pose of the window held throughout)."""
    out = windows.copy()
    for w in out:
        kind = rng.integers(3)
        length = rng.integers(15, WINDOW + 1)
        a = rng.integers(0, WINDOW - length + 1)
        if kind == 0:
            w[a:a + length] += rng.normal(0.0, rng.uniform(0.005, 0.05), w[a:a + length].shape).astype(w.dtype)
        elif kind == 1:
            w[a:a + length] = w[a]
        else:
            w[:] = w[rng.integers(WINDOW)]
    return out


def contrastive_loss(motion_z: torch.Tensor, text_z: torch.Tensor, label: torch.Tensor, scale: torch.Tensor,
                     negative_z: torch.Tensor | None = None, broken_z: torch.Tensor | None = None):
    """InfoNCE over the batch's distinct texts.

    motion_z (B, D); text_z (U, D) one row per distinct text; label (B,) row of each motion's text;
    negative_z (N, D) corrupted motions that match no text: extra candidates for every text;
    broken_z (D,) a learned "implausible motion" anchor: an extra candidate for every motion,
    the right answer for the corrupted ones.
    """
    candidates = text_z if broken_z is None else torch.cat([text_z, broken_z[None]])
    logits = scale * motion_z @ candidates.T                                # (B, U[+1])
    m2t = nn.functional.cross_entropy(logits, label)
    t2m_logits = logits[:, :len(text_z)].T                                  # (U, B)
    if negative_z is not None:
        t2m_logits = torch.cat([t2m_logits, scale * text_z @ negative_z.T], 1)  # (U, B + N)
        if broken_z is not None:
            broken = torch.full((len(negative_z),), len(text_z), dtype=torch.long)
            m2t = (m2t * len(label) + nn.functional.cross_entropy(scale * negative_z @ candidates.T, broken,
                                                                  reduction="sum")) / (len(label) + len(negative_z))
    positive = (label[None, :] == torch.arange(len(text_z))[:, None]).float()  # (U, B)
    log_p = torch.log_softmax(t2m_logits, dim=1)[:, :len(label)]
    t2m = -(log_p * positive).sum(1) / positive.sum(1)
    return (m2t + t2m.mean()) / 2


def evaluate(model: Evaluator, windows, pool_texts: list[str], pool_sentence: np.ndarray, seed: int = 0) -> np.ndarray:
    """R-precision top-1/2/3 of fixed windows (batch 32)."""
    motion = model.embed_motion(windows.joints)
    return r_precision(motion, windows.texts, pool_texts, model.embed_text(pool_sentence), seed)


class WindowDecoder(nn.Module):
    """Training-only head (TMR-style): the embedding must reconstruct its window's normalised
    features (every 2nd frame), so it keeps the motion's dynamics and not only its text class."""

    def __init__(self, embed_dim: int, frames: int = WINDOW // 2, feature_dim: int = FEATURE_DIM):
        super().__init__()
        self.frames, self.feature_dim = frames, feature_dim
        self.net = nn.Sequential(nn.Linear(embed_dim, 512), nn.GELU(), nn.Linear(512, frames * feature_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).reshape(-1, self.frames, self.feature_dim)   # (B, WINDOW/2, 198)


def train(cache: Path, out: Path, steps: int, batch: int, lr: float, seed: int, eval_every: int,
          recon: float = 1.0, negatives: int = 32, log=print) -> dict:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    takes = [t for t in load_takes(cache, "train") if len(t.joints) >= WINDOW]
    val = take_windows(load_takes(cache, "val"))
    if not takes or not len(val.joints):
        raise RuntimeError(f"{cache}: need train takes and val windows of >= {WINDOW} frames")
    pool = sorted({t.text for t in takes} | set(val.texts))
    sentence = embed_texts_cached(pool, cache)                      # (P, 384) frozen
    text_index = {t: i for i, t in enumerate(pool)}
    text_ids = np.array([text_index[t.text] for t in takes])
    mirrorable = np.array([not ({"left", "right"} & set(t.text.replace(",", " ").split())) for t in takes])
    log(f"train: {len(takes)} takes, {sum(len(t.joints) for t in takes)} frames, {len(set(text_ids))} texts; "
        f"val: {len(val.joints)} windows; distractor pool: {len(pool)} texts")

    model = Evaluator()
    with torch.no_grad():  # normaliser from train windows (stride 15)
        feats = window_features(torch.as_tensor(take_windows(takes, stride=15).joints))
        model.feat_mean.copy_(feats.reshape(-1, feats.shape[-1]).mean(0))
        model.feat_std.copy_(feats.reshape(-1, feats.shape[-1]).std(0).clamp_min(1e-3))
    decoder = WindowDecoder(model.config["embed_dim"])
    broken = nn.Parameter(torch.randn(model.config["embed_dim"]))    # training-only anchor
    opt = torch.optim.AdamW([*model.parameters(), *decoder.parameters(), broken], lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    sentence_t = torch.as_tensor(sentence)
    history = []
    start = time.time()
    for step in range(1, steps + 1):
        model.train()
        joints, ids = _sample_batch(takes, text_ids, mirrorable, batch, rng)
        uniq, label = torch.unique(torch.as_tensor(ids), return_inverse=True)
        feats = model.features(torch.as_tensor(joints))
        motion_z = model.motion(feats)
        text_z = model.text(sentence_t[uniq])
        negative_z = model.forward_motion(torch.as_tensor(corrupt(joints[:negatives], rng))) if negatives else None
        nce = contrastive_loss(motion_z, text_z, label, model.log_scale.clamp(max=np.log(100.0)).exp(), negative_z,
                               nn.functional.normalize(broken, dim=0) if negatives else None)
        rec = nn.functional.mse_loss(decoder(motion_z), feats[:, ::2])
        loss = nce + recon * rec
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % eval_every == 0 or step == steps:
            rp = evaluate(model, val, pool, sentence)
            history.append({"step": step, "nce": round(nce.item(), 4), "recon": round(rec.item(), 4),
                            "val_r_precision": rp.round(4).tolist()})
            log(f"step {step:5d}  nce {nce.item():.3f}  recon {rec.item():.3f}  val R@1/2/3 {rp[0]:.3f} {rp[1]:.3f} {rp[2]:.3f}  "
                f"{time.time() - start:.0f}s")
    final = history[-1]
    info = {"trained_on": "train split", "monitored_on": "val split, R-precision (batch 32)",
            "steps": steps, "batch": batch, "lr": lr, "seed": seed, "recon_weight": recon, "hard_negatives": negatives,
            "val_r_precision": final["val_r_precision"], "train_takes": len(takes),
            "train_texts": int(len(set(text_ids))), "history": history}
    model.save(out, {"training": info})
    log(f"saved {out} (val R@1/2/3 {final['val_r_precision']})")
    return info


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m inference_backend.eval.train_evaluator", description=__doc__.split("\n")[0])
    p.add_argument("--cache", type=Path, default=default_cache_dir(), help="motion cache (default: %(default)s)")
    p.add_argument("--out", type=Path, default=EVALUATOR_DIR, help="output folder (default: %(default)s)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--recon", type=float, default=1.0, help="weight of the reconstruction loss")
    p.add_argument("--negatives", type=int, default=32, help="corrupted windows per batch (hard negatives)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)  # the GRU is small; more threads only contend on shared CPUs
    train(a.cache, a.out, a.steps, a.batch, a.lr, a.seed, a.eval_every, a.recon, a.negatives, log=lambda s: print(s, flush=True))


if __name__ == "__main__":
    main()
