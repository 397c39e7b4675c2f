"""Everything a reaction needs, loaded once per process and shared by every session:
the frozen prior, the interaction modules, the frame-wise refiner and the text encoder.

    <model_dir>/prior/            the motion prior (see models.prior); required
    <model_dir>/modules/hhi.*     human-human module   (safetensors + json); optional
    <model_dir>/modules/hsi.*     human-scene module   (safetensors + json); optional
    <model_dir>/modules/fwsr.*    frame-wise refiner   (safetensors + json); optional

A missing module is simply absent (its weight has no effect); a module trained against a
different prior (its recorded prior hash differs) is skipped with a note in `describe()`,
because its modulation would be meaningless for this prior.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..models.fwsr import FrameRefiner, RefinerConfig
from ..models.interaction import InteractionModule, read_module_files
from ..models.mixing import DEFAULT_MAX_RATIO, Modulator
from ..models.prior import MotionPrior, prior_hash
from ..paths import ASSETS_DIR

MODULE_NAMES = ("hhi", "hsi")


def _default_embed(texts: list[str]) -> np.ndarray:
    from ..models.text_encoder import embed_texts

    return embed_texts(texts)


@dataclass
class Runtime:
    prior: MotionPrior
    modules: dict[str, InteractionModule] = field(default_factory=dict)
    refiner: FrameRefiner | None = None
    embed_text: Callable[[list[str]], np.ndarray] = _default_embed
    device: torch.device = torch.device("cpu")
    prior_hash: str = ""
    max_ratio: float = DEFAULT_MAX_RATIO
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.modulator = Modulator(self.prior.denoiser)
        self._text_lock = threading.Lock()
        self._text_cache: dict[str, torch.Tensor] = {}

    def text(self, intent: str) -> torch.Tensor:
        """(384,) embedding of an intent, cached (the encoder loads once per process)."""
        with self._text_lock:
            if intent not in self._text_cache:
                vec = np.asarray(self.embed_text([intent]), dtype=np.float32).reshape(-1)
                self._text_cache[intent] = torch.as_tensor(vec, device=self.device)
            return self._text_cache[intent]

    def describe(self) -> dict:
        return {"prior": f"DART-style motion prior ({self.prior_hash[:12] or 'unhashed'})",
                "modules": ",".join(self.modules) or "none",
                "fwsr": "yes" if self.refiner is not None else "no",
                "device": str(self.device), **({"notes": "; ".join(self.notes)} if self.notes else {})}


def load_refiner(path: Path, device) -> tuple[FrameRefiner, dict]:
    doc, state = read_module_files(path)
    refiner = FrameRefiner(RefinerConfig(**doc["config"]))
    refiner.load_state_dict(state)
    return refiner.to(device).eval().requires_grad_(False), doc.get("meta", {})


def load_modules(module_dir: Path, device, expected_hash: str, notes: list[str]):
    """(modules by name, refiner or None) from a folder; mismatched or unreadable files are
    skipped with a note."""
    from ..models.interaction import load_module

    modules: dict[str, InteractionModule] = {}
    refiner = None
    for name in (*MODULE_NAMES, "fwsr"):
        stem = module_dir / name
        if not stem.with_suffix(".json").is_file():
            continue
        try:
            if name == "fwsr":
                obj, meta = load_refiner(stem, device)
            else:
                obj, meta = load_module(stem, device)
                obj.requires_grad_(False)
        except (OSError, ValueError, RuntimeError, TypeError, KeyError) as exc:
            notes.append(f"{name}: not loaded ({exc})")
            continue
        if expected_hash and meta.get("prior_hash") not in (None, expected_hash):
            notes.append(f"{name}: trained for another prior ({str(meta.get('prior_hash'))[:12]}), skipped")
            continue
        if name == "fwsr":
            refiner = obj
        else:
            modules[name] = obj
    return modules, refiner


_cache: dict[tuple[str, str], Runtime] = {}
_cache_lock = threading.Lock()


def load_runtime(model_dir: str | Path = ASSETS_DIR, device: str = "cpu") -> Runtime:
    """The runtime for a model folder and device, loaded once per process (later calls with the
    same arguments return the same object). Raises FileNotFoundError without a prior."""
    model_dir = Path(model_dir)
    dev = torch.device(device)
    key = (str(model_dir.resolve()), str(dev))
    with _cache_lock:
        if key not in _cache:
            prior = MotionPrior.load(model_dir / "prior", dev)
            digest = prior_hash(model_dir / "prior")
            notes: list[str] = []
            modules, refiner = load_modules(model_dir / "modules", dev, digest, notes)
            _cache[key] = Runtime(prior, modules, refiner, device=dev, prior_hash=digest, notes=notes)
        return _cache[key]


def default_runtime(device: str = "cpu") -> Runtime:
    """The runtime sessions use when none is given: the last one loaded for this device, else
    the shipped assets."""
    dev = str(torch.device(device))
    with _cache_lock:
        for (_, d), rt in reversed(list(_cache.items())):
            if d == dev:
                return rt
    return load_runtime(ASSETS_DIR, device)
