"""Per-take text from CMU's own listing, cleaned for the text encoder.

Sources (both in the shared data folder): `cmu/cmu_take_index.csv` (CMU's descriptions plus the
capture `framerate`) and, as a fall-back and for subject titles, `cmu_more/glimpse_cmu-mocap-index.csv`
(B. Hahne's listing). Cleaning keeps CMU's words: the "(2 subjects - subject A)" suffix becomes a
role, whitespace and case are normalised, a few unambiguous CMU abbreviations are expanded, and
"Unknown" descriptions (e.g. subject 94) fall back to the subject's title ("indian dance").
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

from ..paths import default_data_dir

_ROLE = re.compile(r"\(\s*2 subjects\s*-\s*subject\s*([ab])\s*\)", re.IGNORECASE)
# Only expansions that are unambiguous in CMU's listing.
_ABBREVIATIONS = {r"\bw/\s*": "with ", r"\bfwd\b": "forward", r"\bbkwd\b": "backward",
                  r"\bl\.?\s*hand\b": "left hand", r"\br\.?\s*hand\b": "right hand"}


def normalise_take_id(subject, trial) -> str:
    return f"{int(subject):02d}_{int(trial):02d}"


def clean(description: str) -> tuple[str, str]:
    """(cleaned text, role "A"/"B"/"") from a raw CMU description."""
    text = description.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
    role = ""
    m = _ROLE.search(text)
    if m:
        role = m.group(1).upper()
        text = _ROLE.sub("", text)
    text = text.lower()
    for pattern, repl in _ABBREVIATIONS.items():
        text = re.sub(pattern, repl, text)
    text = re.sub(r"\s+", " ", text).strip(" ,;-")
    return text, role


@lru_cache(maxsize=4)
def _cmu_index(data_dir: str) -> dict[str, tuple[str, float | None]]:
    """take id -> (raw description, framerate) from cmu_take_index.csv."""
    path = Path(data_dir) / "cmu" / "cmu_take_index.csv"
    out: dict[str, tuple[str, float | None]] = {}
    if not path.exists():
        return out
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            try:
                take = normalise_take_id(row["Subject"], row["Trial #"])
            except (TypeError, ValueError):
                continue
            try:
                rate = float(row.get("framerate") or "")
            except ValueError:
                rate = None
            out[take] = ((row.get("Motion Description") or "").strip(), rate)
    return out


@lru_cache(maxsize=4)
def _glimpse_index(data_dir: str) -> dict[str, tuple[str, str]]:
    """take id -> (raw description, subject title) from Hahne's listing."""
    path = Path(data_dir) / "cmu_more" / "glimpse_cmu-mocap-index.csv"
    out: dict[str, tuple[str, str]] = {}
    if not path.exists():
        return out
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.reader(f):
            if len(row) < 3 or not re.fullmatch(r"\d+_\d+", row[0].strip()):
                continue
            subject, trial = row[0].strip().split("_")
            title = re.sub(r"^Subject\s*#\d+\s*\((.*)\)\s*$", r"\1", row[2].strip())
            out[normalise_take_id(subject, trial)] = (row[1].strip(), title)
    return out


def _known(description: str) -> bool:
    return bool(description) and description.strip().lower() not in {"unknown", "n/a", "?"}


def describe_with_role(take_id: str, data_dir=None) -> tuple[str, str]:
    """(cleaned description, role) for a CMU take id like "18_01"; ("", "") when unknown."""
    data_dir = str(data_dir or default_data_dir())
    raw = _cmu_index(data_dir).get(take_id, ("", None))[0]
    glimpse = _glimpse_index(data_dir).get(take_id, ("", ""))
    if not _known(raw):
        raw = glimpse[0]
    if not _known(raw):
        raw = glimpse[1]  # subject title, e.g. "indian dance"
    if not _known(raw):
        return "", ""
    return clean(raw)


def describe(take_id: str, data_dir=None) -> str:
    """Cleaned CMU description of a take ("walk, shake hands"), "" when the take is unlisted."""
    return describe_with_role(take_id, data_dir)[0]


def capture_fps(take_id: str, data_dir=None) -> float | None:
    """CMU's listed capture rate for a take (120 or 60), None when unlisted."""
    return _cmu_index(str(data_dir or default_data_dir())).get(take_id, ("", None))[1]
