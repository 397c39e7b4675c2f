"""A motion on the canonical SMPL-X body: what retargeting produces and training consumes."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..body import NUM_BODY_JOINTS, RestSkeleton, joint_positions


@dataclass
class Motion:
    take_id: str
    fps: float                # 30 after retargeting
    transl: np.ndarray        # (T, 3) float32 pelvis world position, metres, Z up
    rotations: np.ndarray     # (T, 22, 3, 3) float32 local rotations (parent frame, rel. to rest)
    text: str = ""
    skeleton: str = ""        # source skeleton kind
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.transl.shape[0])

    def joints(self, rest: RestSkeleton) -> np.ndarray:
        """(T, 22, 3) world joint positions on the given rest skeleton."""
        return joint_positions(self.rotations, rest.body_offsets, self.transl).astype(np.float32)

    def slice(self, start: int, stop: int) -> "Motion":
        return Motion(self.take_id, self.fps, self.transl[start:stop], self.rotations[start:stop],
                      self.text, self.skeleton, dict(self.meta))

    def validate(self) -> None:
        t = self.num_frames
        if self.rotations.shape != (t, NUM_BODY_JOINTS, 3, 3):
            raise ValueError(f"{self.take_id}: rotations must be (T, 22, 3, 3), got {self.rotations.shape}")
        if not (np.isfinite(self.transl).all() and np.isfinite(self.rotations).all()):
            raise ValueError(f"{self.take_id}: motion has non-finite values")
