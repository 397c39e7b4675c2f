"""Fixed train/val/test splits by take id, in code (the test split is never trained on).

Rule, in order:
1. A two-person take is split by its pair (the A-side id: "19_01" -> "18_01"; user pairs
   "<folder>:a"/"<folder>:b" -> "<folder>"), so both partners always land together.
2. Pinned takes (`PINNED`): the demo handshake 18_01/19_01 and salsa 60_15/61_15 are test;
   22_07/23_07 (comfort, hand on shoulder) and salsa 60_14/61_14 are val; plus single-person
   takes pinned to test so that it holds at least a walk (07_01), a run (09_01) and a jump
   (13_39, 16_01).
3. Everything else: a stable hash (SHA-256 of the split key, not Python's salted `hash`) mapped
   to [0, 1): < 0.10 -> test, < 0.15 -> val, else train (about 10 % / 5 % / 85 %).
Copies of one take in several skeletons share its take id, hence its split.
"""
from __future__ import annotations

import hashlib
import re

TEST_FRACTION = 0.10
VAL_FRACTION = 0.05

PINNED = {
    "18_01": "test",   # walk, shake hands (the demo)
    "60_15": "test",   # salsa pair
    "22_07": "val",    # A comforts B, hand on B's shoulder
    "60_14": "val",    # salsa pair
    "07_01": "test",   # walk
    "09_01": "test",   # run
    "13_39": "test",   # jump
    "16_01": "test",   # jump (CMU skeleton BVH)
}

_PAIR_B_TO_A = {19: 18, 21: 20, 23: 22, 61: 60}


def split_key(take_id: str) -> str:
    """The id a take is split by: its pair's A-side id, or the take id itself."""
    if take_id.endswith((":a", ":b")):
        return take_id[:-2]
    m = re.fullmatch(r"(\d+)_(\d+)", take_id)
    if m and int(m.group(1)) in _PAIR_B_TO_A:
        return f"{_PAIR_B_TO_A[int(m.group(1))]:02d}_{m.group(2)}"
    return take_id


def _unit_hash(key: str) -> float:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_of(take_id: str) -> str:
    """"train" | "val" | "test" for a take id (see the module docstring for the rule)."""
    key = split_key(take_id)
    if key in PINNED:
        return PINNED[key]
    u = _unit_hash(key)
    if u < TEST_FRACTION:
        return "test"
    if u < TEST_FRACTION + VAL_FRACTION:
        return "val"
    return "train"
