"""Data augmentation that keeps motions physically valid: mirroring, windows, role swap."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..body import MIRROR_INDEX, NUM_BODY_JOINTS
from .motion import Motion

MIRROR = np.diag([-1.0, 1.0, 1.0]).astype(np.float32)  # reflect x (the body's left-right axis)
BODY_MIRROR = MIRROR_INDEX[:NUM_BODY_JOINTS]


def mirror(motion: Motion) -> Motion:
    """The left-right mirror image: x reflected, left and right joints swapped (R -> M R M).

    Exact when the rest skeleton is left-right symmetric (the measured one is: see
    `measure_bone_lengths`); the text is kept, so "left"/"right" words are swapped too."""
    rot = MIRROR @ motion.rotations[:, BODY_MIRROR] @ MIRROR
    transl = motion.transl * MIRROR.diagonal()
    meta = dict(motion.meta, mirrored=not motion.meta.get("mirrored", False))
    return Motion(motion.take_id, motion.fps, transl.astype(np.float32), rot.astype(np.float32),
                  swap_left_right_words(motion.text), motion.skeleton, meta)


def swap_left_right_words(text: str) -> str:
    out = []
    for word in text.split(" "):
        low = word.lower()
        for a, b in (("left", "right"), ("right", "left")):
            if low.startswith(a):
                word = (b.capitalize() if word[:1].isupper() else b) + word[len(a):]
                break
        out.append(word)
    return " ".join(out)


def windows(motion: Motion, length: int, stride: int) -> Iterator[Motion]:
    """Overlapping windows of `length` frames every `stride` frames (none if the take is shorter)."""
    for start in range(0, motion.num_frames - length + 1, stride):
        yield motion.slice(start, start + length)


def pair_windows(a: Motion, b: Motion, length: int, stride: int) -> Iterator[tuple[Motion, Motion]]:
    """The same windows cut from both people of a pair (they share one clock)."""
    n = min(a.num_frames, b.num_frames)
    for start in range(0, n - length + 1, stride):
        yield a.slice(start, start + length), b.slice(start, start + length)


def both_roles(a: Motion, b: Motion) -> Iterator[tuple[Motion, Motion]]:
    """(reactor, partner) both ways: either person of a pair can be the one who reacts."""
    yield a, b
    yield b, a


def mirror_pair(a: Motion, b: Motion) -> tuple[Motion, Motion]:
    """Mirror both people through the same plane, so their relative placement mirrors too."""
    return mirror(a), mirror(b)
