"""The training loop every stage shares: AdamW, warm-up + cosine LR, EMA, gradient clipping,
periodic checkpoints (by steps and by wall time), resume, a tqdm bar and a jsonl loss log.

A stage supplies a `Stage` object: the trainable model, `loss(step) -> (loss, logs)`, the
tensors it needs saved beside the model (`extra`) and a hook to run when a checkpoint is saved.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from .checkpoint import EMA, restore_checkpoint, save_checkpoint


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def lr_at(step: int, cfg: dict) -> float:
    warm, total, base = cfg.get("warmup", 200), max(cfg["steps"], 1), cfg["lr"]
    if step < warm:
        return base * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    floor = cfg.get("lr_floor", 0.1)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def run(stage, cfg: dict, out: Path, generator: torch.Generator, resume: bool, max_minutes: float | None = None,
        quiet: bool = False, stop_at: int | None = None) -> dict:
    """Train `stage.model` for cfg["steps"] steps; returns the last logged losses.

    `max_minutes` / `stop_at` interrupt the run early (with a checkpoint) without changing the
    schedule, as a crash or a time limit would; `--resume` then continues exactly."""
    out.mkdir(parents=True, exist_ok=True)
    model = stage.model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg.get("weight_decay", 0.01),
                                  betas=(0.9, 0.99))
    ema = EMA(model, cfg.get("ema_decay", 0.999))
    step = 0
    if resume and (out / "checkpoint.json").is_file():
        meta, extra = restore_checkpoint(out, model=model, ema=ema, optimizer=optimizer, generator=generator)
        step = meta["step"]
        stage.restore(extra, meta.get("state", {}))
    log_path = out / "log.jsonl"
    if step == 0 and log_path.exists():
        log_path.unlink()

    def checkpoint():
        save_checkpoint(out, step=step, config=cfg, model=model, ema=ema, optimizer=optimizer,
                        generator=generator, extra=stage.extra(), state=stage.state())
        stage.on_checkpoint(ema, step)

    started = time.time()
    last_ckpt = time.time()
    logs: dict = {}
    bar = tqdm(total=cfg["steps"], initial=step, desc=cfg.get("name", "train"), disable=quiet, mininterval=5)
    with log_path.open("a") as log:
        while step < cfg["steps"]:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, cfg)
            model.train()
            loss, logs = stage.loss(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.get("grad_clip", 1.0))
            optimizer.step()
            ema.update(model, step)
            step += 1
            logs = {k: float(v.detach() if torch.is_tensor(v) else v) for k, v in logs.items()}
            logs.update(loss=float(loss.detach()), grad_norm=float(grad_norm), lr=optimizer.param_groups[0]["lr"])
            if step % cfg.get("log_every", 10) == 0 or step == cfg["steps"]:
                log.write(json.dumps({"step": step, "time_s": round(time.time() - started, 1), **logs}) + "\n")
                log.flush()
                bar.set_postfix(loss=f"{logs['loss']:.4f}", **({"mpjpe": f"{logs['mpjpe']:.3f}"} if "mpjpe" in logs else {}))
            bar.update(1)
            due = step % cfg.get("checkpoint_every", 1000) == 0
            due = due or time.time() - last_ckpt > 60 * cfg.get("checkpoint_minutes", 4)
            out_of_time = max_minutes is not None and time.time() - started > 60 * max_minutes
            out_of_time = out_of_time or (stop_at is not None and step >= stop_at)
            if due or step == cfg["steps"] or out_of_time:
                checkpoint()
                last_ckpt = time.time()
            if out_of_time:
                break
    bar.close()
    return logs
