"""The take catalog: every motion file under the data folder, with the facts needed to read it.

Discovery, in a data folder (default `paths.default_data_dir()`):
- every `*.tar.xz` is extracted once into `<cache>/extracted/<name without .tar.xz>/` (extracted
  into a temporary folder, then renamed, so a crash never leaves half a folder; skipped when
  present), then searched like a plain folder;
- plain folders are searched too, so users can drop in the full CMU release (`.bvh`, or
  `.asf` + `.amc`) or AMASS folders (`.npz`).

What the catalog knows beyond the file (the file headers are wrong for some sources):
- `MANIFEST.tsv` beside the files (the `cmu_more` tarballs): CMU take id, TRUE capture fps and
  whether frame 0 is an added T-pose, per file. The manifest beats the header.
- `data/cmu` README facts: the cgspeed pairs are 120 fps with an added T-pose; the iClone/CC3
  single subset is 60 fps. (Its README also says every CC3 file starts with a T-pose, but only
  007_03-007_12 do; for CC3 the reader detects it from the data.)
- BVH takes with a CMU id that carry a 120-fps header while CMU lists 60 fps (cgspeed's known
  quirk, e.g. salsa 60/61) are read at 60 fps.
- Skipped, with a logged reason: papagina's `standard.bvh` (a 3-frame writer template), and the
  Przestr files its README marks defective (07_12, 09_10: broken root translation).

Duplicates: the same CMU take often exists in several skeletons (e.g. 02_01 as CC3, Daz and
ASF/AMC). All copies are kept as separate records with distinct `key`s ("cc3/02_01",
"daz/02_01", "asf/02_01") because a different skeleton retargeted to our body is useful
augmentation; the split is decided by `take_id` (see `splits.py`), so copies of one take never
straddle train and test.

Two-person pairs (`pairs()`):
- CMU: subjects 18<->19, 20<->21, 22<->23 with the same trial number, and salsa 60_k<->61_k;
- user pairs, either layout:
    `<anything>_pair/` holding exactly two motion files (sorted by name: first = A, second = B),
    or any folder holding exactly two motion files named `*_a.*` + `*_b.*` or `A.*` + `B.*`.
  Their take ids are `<folder>:a` and `<folder>:b` (the split uses the folder), the pair id is
  `<folder>`. Both files must share one world frame and clock (same frame count).
"""
from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..paths import default_cache_dir, default_data_dir
from . import text as take_text
from .source import MotionFileError, SourceMotion

log = logging.getLogger(__name__)

MOTION_SUFFIXES = (".bvh", ".amc", ".npz")

# Per known source (tarball name): skeleton tag used in keys, default fps, default T-pose rule.
KNOWN_SOURCES = {
    "cmu_pairs_18-23_verified": {"tag": "cgspeed", "fps": 120.0, "drop_first_frame": True},
    "cmu_single_subset_subjects01-07_iclone-cc3-rig_60fps": {"tag": "cc3", "fps": 60.0, "drop_first_frame": None},
    "papagina_daz_120fps": {"tag": "daz"},
    "przestr_bvh_120fps": {"tag": "daz"},
    "cyun9601_asfamc": {"tag": "asf"},
}
# Files known to be broken, per source: (take id, reason).
DEFECTIVE = {
    "przestr_bvh_120fps": {
        "07_12": "broken root translation (hip below the floor in every frame; see cmu_more/README.md)",
        "09_10": "broken root translation (hip below 20 units in 124 of 132 frames; see cmu_more/README.md)",
    },
}
# papagina renamed CMU takes to <folder>/NN.bvh.
PAPAGINA_FOLDERS = {"indian": lambda n: f"94_{n:02d}", "martial": lambda n: f"135_{n:02d}",
                    "salsa": lambda n: f"60_{n:02d}" if n <= 15 else f"61_{n - 15:02d}"}
# Two-person CMU subjects: A-side subject -> B-side subject (same trial number).
CMU_PAIR_SUBJECTS = {18: 19, 20: 21, 22: 23, 60: 61}


@dataclass
class TakeInfo:
    key: str                        # unique in a catalog, e.g. "daz/02_01"
    take_id: str                    # CMU "SS_TT" where known, else a name; duplicates allowed
    path: Path
    format: str                     # "bvh" | "amc" | "npz"
    source: str                     # tarball name or folder (relative to the data folder)
    fps: float | None = None        # TRUE capture rate; None = trust the file
    drop_first_frame: bool | None = None  # added T-pose at frame 0; None = reader decides
    text: str = ""
    subject: str = ""
    asf_path: Path | None = None    # for AMC
    role: str = ""                  # "A"/"B" in a two-person take
    meta: dict = field(default_factory=dict)

    def load(self) -> SourceMotion:
        """Read the file with the catalog's facts (fps, T-pose) applied."""
        if self.format == "bvh":
            from .bvh import read_bvh

            motion = read_bvh(self.path, fps=self.fps, drop_first_frame=self.drop_first_frame,
                              take_id=self.take_id)
            listed = take_text.capture_fps(self.take_id) if self.fps is None else None
            if listed == 60.0 and abs(motion.meta["header_fps"] - 120.0) < 0.5:
                motion.fps = 60.0  # cgspeed wrote 120-fps headers for CMU's 60-fps takes
                motion.meta["fps_from"] = "cmu index (header 120 fps is cgspeed's default)"
        elif self.format == "amc":
            from .asfamc import read_asf_amc

            motion = read_asf_amc(self.asf_path, self.path, fps=self.fps or 120.0, take_id=self.take_id)
        elif self.format == "npz":
            from .amass import read_smplx_npz

            motion = read_smplx_npz(self.path, take_id=self.take_id)
        else:
            raise MotionFileError(f"{self.path}: unknown format {self.format!r}")
        motion.meta.update(key=self.key, source=self.source)
        return motion


@dataclass
class PairInfo:
    id: str          # "18_01+19_01", or the user folder name
    a: TakeInfo
    b: TakeInfo
    source: str


# ---------------------------------------------------------------------------------------------
# Extraction


def extract_tarballs(data_dir=None, cache_dir=None) -> list[Path]:
    """Extract every `*.tar.xz` under the data folder once; returns the extracted folders."""
    data_dir = Path(data_dir or default_data_dir())
    root = Path(cache_dir or default_cache_dir()) / "extracted"
    out = []
    for tarball in sorted(data_dir.rglob("*.tar.xz")):
        name = tarball.name[: -len(".tar.xz")]
        target = root / name
        if not target.is_dir():
            root.mkdir(parents=True, exist_ok=True)
            tmp = root / f".tmp-{name}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            log.info("extracting %s -> %s", tarball, target)
            with tarfile.open(tarball, "r:xz") as tar:
                tar.extractall(tmp, filter="data")
            try:
                os.rename(tmp, target)
            except OSError:  # another process won the race: keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
                if not target.is_dir():
                    raise
        out.append(target)
    return out


# ---------------------------------------------------------------------------------------------
# Manifest and take ids


def _read_manifest(folder: Path) -> dict[Path, dict]:
    """{absolute file path: row} from every MANIFEST.tsv under `folder`."""
    rows: dict[Path, dict] = {}
    for manifest in folder.rglob("MANIFEST.tsv"):
        with manifest.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if row.get("path"):
                    rows[(manifest.parent / row["path"]).resolve()] = row
    return rows


def cmu_take_id(path: Path) -> str | None:
    """"SS_TT" from a CMU-style file name ("18_01.bvh", "002_01.bvh", "135_03.amc"), else None."""
    m = re.fullmatch(r"0*(\d{1,3})_0*(\d{1,3})", path.stem)
    if not m:
        return None
    return f"{int(m.group(1)):02d}_{int(m.group(2)):02d}"


def _papagina_take_id(path: Path) -> str | None:
    rule = PAPAGINA_FOLDERS.get(path.parent.name)
    if rule and path.stem.isdigit():
        return rule(int(path.stem))
    return None


def _yes_no(value: str | None) -> bool | None:
    value = (value or "").strip().lower()
    return True if value == "yes" else False if value == "no" else None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Discovery


def _is_motion_npz(path: Path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
    except Exception:  # noqa: BLE001 - any unreadable npz is simply not a motion
        return False
    return "trans" in keys and bool({"poses", "root_orient"} & keys)


def _find_asf(amc: Path) -> Path | None:
    subject = amc.stem.split("_")[0]
    for candidate in (amc.with_name(f"{subject}.asf"), amc.with_name(f"{subject.lstrip('0') or '0'}.asf")):
        if candidate.exists():
            return candidate
    asfs = sorted(amc.parent.glob("*.asf"))
    return asfs[0] if len(asfs) == 1 else None


def _user_pair_role(path: Path, siblings: list[Path]) -> str | None:
    """'a' / 'b' when `path` is one of a user pair's two files (see module docstring)."""
    if len(siblings) != 2:
        return None
    ordered = sorted(siblings)
    if path.parent.name.endswith("_pair"):
        return "a" if path == ordered[0] else "b"
    stems = sorted(p.stem for p in siblings)
    for a, b in ((s, s[:-2] + "_b") for s in stems if s.endswith("_a")):
        if b in stems:
            return "a" if path.stem == a else "b"
    if stems == ["A", "B"]:
        return path.stem.lower()
    return None


def _scan_folder(root: Path, source: str, facts: dict, skipped: list) -> list[TakeInfo]:
    manifest = _read_manifest(root)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MOTION_SUFFIXES and p.is_file())
    by_dir: dict[Path, list[Path]] = {}
    for p in files:
        by_dir.setdefault(p.parent, []).append(p)
    tag = facts.get("tag") or source
    takes = []
    for path in files:
        fmt = path.suffix.lower()[1:]
        row = manifest.get(path.resolve(), {})
        note = (row.get("note") or "").lower()
        if path.name == "standard.bvh" or "not a take" in note:
            skipped.append((path, "template file, not a take"))
            log.info("skipping %s: template file, not a take", path)
            continue
        if fmt == "npz" and not _is_motion_npz(path):
            continue  # e.g. AMASS shape.npz
        take_id = (row.get("cmu_take") or "").strip() or _papagina_take_id(path) or cmu_take_id(path)
        reason = DEFECTIVE.get(source, {}).get(take_id or "")
        if reason:
            skipped.append((path, reason))
            log.warning("skipping %s: %s", path, reason)
            continue
        role = ""
        pair_role = _user_pair_role(path, by_dir[path.parent]) if not take_id else None
        if pair_role:
            folder = path.parent.name
            take_id, role = f"{folder}:{pair_role}", pair_role.upper()
        if not take_id:
            take_id = str(path.relative_to(root).with_suffix("")).replace(os.sep, "/")
        fps = _float(row.get("capture_fps")) or facts.get("fps")
        drop = _yes_no(row.get("frame0_is_added_tpose"))
        if drop is None:
            drop = facts.get("drop_first_frame")
        asf = _find_asf(path) if fmt == "amc" else None
        if fmt == "amc" and asf is None:
            skipped.append((path, "no .asf skeleton beside the .amc"))
            log.warning("skipping %s: no .asf skeleton beside it", path)
            continue
        text, cmu_role = take_text.describe_with_role(take_id) if re.fullmatch(r"\d+_\d+", take_id) else ("", "")
        subject = take_id.split("_")[0] if re.fullmatch(r"\d+_\d+", take_id) else ""
        skeleton_tag = "asf" if fmt == "amc" else tag
        if "CMU ASF 31-joint" in (row.get("skeleton") or "") and fmt == "bvh":
            skeleton_tag = "asfbvh"  # Przestr 16_0x: raw amc2bvh on the CMU skeleton
        takes.append(TakeInfo(
            key=f"{skeleton_tag}/{take_id}", take_id=take_id, path=path, format=fmt, source=source,
            fps=fps, drop_first_frame=drop, text=text, subject=subject, asf_path=asf,
            role=role or cmu_role, meta={"manifest": bool(row)},
        ))
    return takes


def find_takes(data_dir=None, cache_dir=None, skipped: list | None = None) -> list[TakeInfo]:
    """Every take under the data folder (tarballs extracted to the cache), sorted by key.
    `skipped` (optional list) receives (path, reason) for each file left out."""
    data_dir = Path(data_dir or default_data_dir())
    skipped = [] if skipped is None else skipped
    takes: list[TakeInfo] = []
    for folder in extract_tarballs(data_dir, cache_dir):
        takes += _scan_folder(folder, folder.name, KNOWN_SOURCES.get(folder.name, {}), skipped)
    # Plain folders the user brought (anything under the data folder that holds motion files).
    for sub in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        takes += _scan_folder(sub, sub.name, KNOWN_SOURCES.get(sub.name, {}), skipped)
    seen: dict[str, int] = {}
    for t in takes:  # distinct keys even when two sources give the same skeleton tag and take
        if t.key in seen:
            seen[t.key] += 1
            t.key = f"{t.key}@{t.source}" if seen[t.key] == 2 else f"{t.key}@{t.source}#{seen[t.key]}"
        else:
            seen[t.key] = 1
    return sorted(takes, key=lambda t: t.key)


def partner_take_id(take_id: str) -> str | None:
    """The other person of a two-person take ("18_01" -> "19_01", "61_03" -> "60_03")."""
    m = re.fullmatch(r"(\d+)_(\d+)", take_id)
    if m:
        subject, trial = int(m.group(1)), m.group(2)
        for a, b in CMU_PAIR_SUBJECTS.items():
            if subject == a:
                return f"{b:02d}_{trial}"
            if subject == b:
                return f"{a:02d}_{trial}"
        return None
    if take_id.endswith((":a", ":b")):
        return take_id[:-1] + ("b" if take_id.endswith("a") else "a")
    return None


def pairs(takes: list[TakeInfo]) -> list[PairInfo]:
    """Two-person pairs among `takes`: one pair per (A-take, B-take), A and B from the same
    source where both exist there (same skeleton, same world frame), sorted by id."""
    by_id: dict[str, list[TakeInfo]] = {}
    for t in takes:
        by_id.setdefault(t.take_id, []).append(t)
    out = []
    for take_id, copies in sorted(by_id.items()):
        other = partner_take_id(take_id)
        if other is None or other not in by_id:
            continue
        is_a = take_id.endswith(":a") or (":" not in take_id and int(take_id.split("_")[0]) in CMU_PAIR_SUBJECTS)
        if not is_a:
            continue
        for a in copies:
            same_source = [b for b in by_id[other] if b.source == a.source]
            if same_source:
                pair_id = take_id[:-2] if take_id.endswith(":a") else f"{take_id}+{other}"
                out.append(PairInfo(pair_id, a, same_source[0], a.source))
    return sorted(out, key=lambda p: (p.id, p.source))
