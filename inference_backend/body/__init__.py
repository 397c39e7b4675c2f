"""The SMPL-X body: kinematic tree, rest skeleton, rotations and forward kinematics."""

from .fk import forward_kinematics, joint_positions
from .skeleton import (
    BODY_JOINT_NAMES,
    BODY_PARENTS,
    JOINT_INDEX,
    JOINT_NAMES,
    MIRROR_INDEX,
    NUM_BODY_JOINTS,
    NUM_JOINTS,
    PARENTS,
    RestSkeleton,
    canonical_rest,
)
