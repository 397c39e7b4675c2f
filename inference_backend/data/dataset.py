"""The retargeted motion cache: build it from the catalog, load it for training.

Layout under the cache folder:
    motions/<key>.npz   transl (T,3) f32, rotations (T,22,3,3) f32, meta (json string)
    lengths/<key>.json  the take's measured bone lengths (for the rest skeleton)
    index.json          per take: take_id, split, fps, frames, text, skeleton, partner, signature

Building measures bone lengths on the train split first, writes the canonical rest skeleton
(`assets/skeleton/rest_skeleton.json`), then retargets every take onto it. A take is redone only
when its source file, the code version or the rest skeleton changed.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..body import RestSkeleton
from ..body.skeleton import SHIPPED_REST_SKELETON
from .motion import Motion
from .retarget import measure_bone_lengths, retarget, take_bone_lengths

CODE_VERSION = "retarget-2"  # bump when retargeting changes what it produces
INDEX_FORMAT = "remogen-motion-cache-1"


@dataclass
class BuildReport:
    takes: int = 0
    frames: int = 0
    fps: float = 30.0
    pairs: int = 0
    redone: int = 0
    reused: int = 0
    per_skeleton: dict = field(default_factory=dict)
    per_split: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)   # (name, problem)

    @property
    def hours(self) -> float:
        return self.frames / self.fps / 3600.0

    def summary(self) -> str:
        lines = [f"takes: {self.takes} ({self.redone} retargeted, {self.reused} unchanged)",
                 f"frames: {self.frames} at {self.fps:g} fps = {self.hours:.2f} h ({self.hours * 60:.1f} min)",
                 f"pairs: {self.pairs}",
                 "per skeleton: " + ", ".join(f"{k} {v}" for k, v in sorted(self.per_skeleton.items())),
                 "per split: " + ", ".join(f"{k} {v}" for k, v in sorted(self.per_split.items())),
                 f"skipped: {len(self.skipped)}"]
        lines += [f"  {name}: {problem}" for name, problem in self.skipped]
        return "\n".join(lines)


def _safe_key(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)


def source_signature(take) -> str:
    """Changes when the take's source file changes (path, size, mtime), else its key."""
    path = getattr(take, "path", None)
    parts = [str(take.key)]
    if path and os.path.exists(path):
        st = os.stat(path)
        parts += [str(path), str(st.st_size), str(st.st_mtime_ns)]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


def rest_hash(rest: RestSkeleton) -> str:
    return hashlib.sha1(np.round(rest.offsets, 6).tobytes()).hexdigest()[:16]


def save_motion(path: Path, motion: Motion) -> None:
    meta = {"take_id": motion.take_id, "fps": motion.fps, "text": motion.text,
            "skeleton": motion.skeleton, "meta": motion.meta}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, transl=motion.transl.astype(np.float32), rotations=motion.rotations.astype(np.float32),
             meta=np.array(json.dumps(meta)))
    os.replace(tmp, path)


def load_motion(path: str | Path) -> Motion:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        return Motion(meta["take_id"], float(meta["fps"]), z["transl"], z["rotations"], meta.get("text", ""),
                      meta.get("skeleton", ""), meta.get("meta", {}))


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def build(takes, cache_dir: str | Path, rest_path: str | Path | None = SHIPPED_REST_SKELETON,
          partners: dict[str, str] | None = None, progress: bool = True, target_fps: float = 30.0,
          split_of: Callable[[str], str] | None = None) -> BuildReport:
    """Retarget every take (TakeInfo-like: key, take_id, text, path, load()) into the cache.

    partners: take key -> partner take key for two-person takes; split_of: take id -> split
    (default `splits.split_of`). Bad takes are skipped with a warning that names the file and
    the problem."""
    from tqdm import tqdm

    if split_of is None:
        from .splits import split_of

    cache = Path(cache_dir)
    (cache / "motions").mkdir(parents=True, exist_ok=True)
    (cache / "lengths").mkdir(parents=True, exist_ok=True)
    partners = partners or {}
    takes = list(takes)
    report = BuildReport(fps=target_fps)
    old = _read_json(cache / "index.json", {}).get("takes", {})
    bad: dict[str, str] = {}

    def skip(take, exc):
        name = getattr(take, "path", None) or take.key
        bad[take.key] = f"{type(exc).__name__}: {exc}"
        warnings.warn(str(exc) if str(name) in str(exc) else f"{name}: {exc}", stacklevel=2)

    # Pass 1: bone lengths per take (cached by source signature) -> the rest skeleton.
    lengths: dict[str, dict] = {}
    for take in tqdm(takes, desc="measure", disable=not progress, unit="take"):
        sig = source_signature(take)
        lpath = cache / "lengths" / f"{_safe_key(take.key)}.json"
        cached = _read_json(lpath, {})
        if cached.get("signature") == sig and cached.get("code") == CODE_VERSION:
            lengths[take.key] = cached["lengths"]
            continue
        try:
            lengths[take.key] = take_bone_lengths(take.load())
        except Exception as exc:  # noqa: BLE001 - any bad file is skipped, named, and the build goes on
            skip(take, exc)
            continue
        lpath.write_text(json.dumps({"signature": sig, "code": CODE_VERSION, "lengths": lengths[take.key]}))
    train = [lengths[t.key] for t in takes if t.key in lengths and split_of(t.take_id) == "train"]
    rest = RestSkeleton.from_bone_lengths(measure_bone_lengths(train or list(lengths.values())),
                                          source="measured from the train split of the CMU data")
    if rest_path is not None:
        rest.save(rest_path)
    rhash = rest_hash(rest)

    # Pass 2: retarget what changed.
    index: dict[str, dict] = {}
    for take in tqdm(takes, desc="retarget", disable=not progress, unit="take"):
        if take.key in bad:
            continue
        sig = source_signature(take)
        file = cache / "motions" / f"{_safe_key(take.key)}.npz"
        prev = old.get(take.key, {})
        if (prev.get("signature") == sig and prev.get("code") == CODE_VERSION and prev.get("rest") == rhash
                and file.exists()):
            index[take.key] = dict(prev, split=split_of(take.take_id), text=getattr(take, "text", "") or "",
                                   partner=partners.get(take.key))
            report.reused += 1
            continue
        try:
            src = take.load()
            motion = retarget(src, rest, target_fps, text=getattr(take, "text", "") or "")
        except Exception as exc:  # noqa: BLE001
            skip(take, exc)
            continue
        save_motion(file, motion)
        report.redone += 1
        index[take.key] = {"take_id": take.take_id, "split": split_of(take.take_id), "fps": motion.fps,
                           "frames": motion.num_frames, "text": motion.text, "skeleton": motion.skeleton,
                           "partner": partners.get(take.key), "source": str(getattr(take, "path", "") or ""),
                           "file": f"motions/{file.name}", "signature": sig, "code": CODE_VERSION, "rest": rhash}
    for key, entry in index.items():  # a partner that failed leaves its pair incomplete
        if entry.get("partner") and entry["partner"] not in index:
            entry["partner"] = None
    (cache / "index.json").write_text(json.dumps(
        {"format": INDEX_FORMAT, "code": CODE_VERSION, "rest": rhash, "fps": target_fps, "takes": index,
         "skipped": bad}, indent=1))

    report.takes = len(index)
    report.frames = sum(e["frames"] for e in index.values())
    report.pairs = sum(1 for k, e in index.items() if e.get("partner") and k < e["partner"])
    for e in index.values():
        report.per_skeleton[e["skeleton"]] = report.per_skeleton.get(e["skeleton"], 0) + 1
        report.per_split[e["split"]] = report.per_split.get(e["split"], 0) + 1
    report.skipped = sorted(bad.items())
    return report


def read_index(cache_dir: str | Path) -> dict:
    path = Path(cache_dir) / "index.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no motion cache here; run `python -m inference_backend.data build`")
    return json.loads(path.read_text())["takes"]


def load_motions(cache_dir: str | Path, split: str | None = "train") -> list[Motion]:
    """Every cached take of a split (None: all), sorted by key."""
    index = read_index(cache_dir)
    out = []
    for key, e in sorted(index.items()):
        if split is None or e["split"] == split:
            out.append(load_motion(Path(cache_dir) / e["file"]))
            out[-1].text = e.get("text", out[-1].text)
    return out


def load_pairs(cache_dir: str | Path, split: str | None = "train") -> list[tuple[Motion, Motion]]:
    """Two-person takes as (A, B) in their shared world frame, trimmed to a common length."""
    index = read_index(cache_dir)
    out = []
    for key, e in sorted(index.items()):
        partner = e.get("partner")
        if not partner or key > partner or (split is not None and e["split"] != split):
            continue
        a = load_motion(Path(cache_dir) / e["file"])
        b = load_motion(Path(cache_dir) / index[partner]["file"])
        n = min(a.num_frames, b.num_frames)
        out.append((a.slice(0, n), b.slice(0, n)))
    return out
