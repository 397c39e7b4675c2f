"""Resumable checkpoints without pickle: tensors in safetensors, everything else in json.

`<dir>/checkpoint.safetensors` holds `model.*`, `ema.*`, `opt.<param>.<key>` (AdamW moments and
step counts), `extra.*` (e.g. the feature normaliser) and `rng.*` (torch's global RNG and the
data generator); `<dir>/checkpoint.json` holds the step, the config, the optimiser's param groups
and the scalar state. Files are written to a temporary name and renamed, so a crash mid-write
never leaves a broken checkpoint.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


class EMA:
    """Exponential moving average of a model's parameters (what gets exported)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # warm up: follow the model early on
        for e, p in zip(self.model.state_dict().values(), model.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(d).add_(p.detach(), alpha=1 - d)
            else:
                e.copy_(p)


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}


def save_checkpoint(directory: str | Path, *, step: int, config: dict, model, ema: EMA, optimizer,
                    generator: torch.Generator, extra: dict[str, torch.Tensor] | None = None,
                    state: dict | None = None) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v for k, v in ema.model.state_dict().items()})
    opt = optimizer.state_dict()
    scalars = {}
    for pid, st in opt["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"opt.{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.data"] = generator.get_state()
    for k, v in (extra or {}).items():
        tensors[f"extra.{k}"] = v
    meta = {"format": "remogen-checkpoint-1", "step": step, "config": config,
            "param_groups": opt["param_groups"], "opt_scalars": scalars, "state": state or {}}
    tmp = directory / "checkpoint.tmp.safetensors"
    save_file(_contiguous(tensors), str(tmp))
    tmp.replace(directory / "checkpoint.safetensors")
    (directory / "checkpoint.tmp.json").write_text(json.dumps(meta, indent=1))
    (directory / "checkpoint.tmp.json").replace(directory / "checkpoint.json")
    return directory / "checkpoint.safetensors"


def read_checkpoint(directory: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(json metadata, all tensors) of a checkpoint folder."""
    directory = Path(directory)
    st, js = directory / "checkpoint.safetensors", directory / "checkpoint.json"
    if not (st.is_file() and js.is_file()):
        raise FileNotFoundError(f"no checkpoint in {directory} (need checkpoint.safetensors and checkpoint.json)")
    return json.loads(js.read_text()), load_file(str(st))


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def restore_checkpoint(directory: str | Path, *, model, ema: EMA, optimizer, generator: torch.Generator):
    """Load everything saved by `save_checkpoint`; returns (metadata, extra tensors)."""
    meta, tensors = read_checkpoint(directory)
    model.load_state_dict(prefixed(tensors, "model"))
    ema.model.load_state_dict(prefixed(tensors, "ema"))
    state: dict = {}
    for key, value in prefixed(tensors, "opt").items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    for key, value in meta["opt_scalars"].items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.data"])
    return meta, prefixed(tensors, "extra")
