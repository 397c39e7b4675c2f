"""What every motion-file reader returns: a source skeleton's joints in world space.

Readers (BVH, ASF/AMC, ...) run their own format's forward kinematics and hand over global joint
positions, so retargeting never needs to know a file format's channel conventions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class MotionFileError(ValueError):
    """A motion file that cannot be read; the message names the file and the problem."""


@dataclass
class SourceMotion:
    path: str                   # file it was read from
    take_id: str                # e.g. "18_01" (CMU subject_trial), else the file stem
    skeleton: str               # "cmu_cgspeed" | "cmu_asf" | "daz" | "cc3" | "smplx" | "unknown"
    joint_names: list[str]      # source joint names; end sites as "<parent>_end"
    parents: np.ndarray         # (J,) int, -1 for the root
    rest_positions: np.ndarray  # (J, 3) metres, Z up, rest/T-pose as the file defines it
    positions: np.ndarray       # (T, J, 3) float32 global joint positions, metres, Z up
    fps: float                  # the true capture rate (manifest beats header)
    meta: dict = field(default_factory=dict)  # e.g. {"header_fps": 120, "dropped_tpose": True}

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    def index(self, name: str) -> int:
        return self.joint_names.index(name)
