"""Physics metrics on hand-made bodies built with our FK: skating, floor, jerk, capsules, voxels."""
from __future__ import annotations

import numpy as np
import pytest

from inference_backend.body import BODY_JOINT_NAMES, canonical_rest, joint_positions
from inference_backend.body.rotations import axis_angle_to_matrix
from inference_backend.eval import physics

FPS = 30.0
REST = canonical_rest()


def body(transl, yaw=None, rotations=None) -> np.ndarray:
    """World joints (T, 22, 3) of the rest pose (or given local rotations), turned by yaw about z."""
    transl = np.asarray(transl, dtype=np.float64)
    t = transl.shape[0]
    rot = np.tile(np.eye(3), (t, 22, 1, 1)) if rotations is None else np.array(rotations, dtype=np.float64)
    if yaw is not None:
        rot[:, 0] = axis_angle_to_matrix(np.stack([np.zeros(t), np.zeros(t), np.asarray(yaw, float)], -1)) @ rot[:, 0]
    return joint_positions(rot, REST.body_offsets, transl)


def standing(t=60, xy=(0.0, 0.0), yaw=0.0, lift=0.0) -> np.ndarray:
    transl = np.tile([xy[0], xy[1], REST.pelvis_height + lift], (t, 1))
    return body(transl, np.full(t, yaw))


def test_planted_feet_do_not_skate_and_sliding_feet_do():
    still = standing()
    assert physics.foot_skating_ratio(still, FPS) == 0.0
    assert physics.dart_skate(still, FPS) == pytest.approx(0.0, abs=1e-9)

    slide = standing()
    slide[:, :, 0] += np.arange(60)[:, None] * (1.0 / FPS)  # whole body glides at 1 m/s, feet on the floor
    assert physics.foot_skating_ratio(slide, FPS) == pytest.approx(1.0)
    assert physics.dart_skate(slide, FPS) > 0.4  # the feet (weight ~1) slide at 1 m/s, ankles are above 3 cm

    slow = standing()
    slow[:, :, 0] += np.arange(60)[:, None] * (0.2 / FPS)  # 0.2 m/s: below the 0.5 m/s threshold
    assert physics.foot_skating_ratio(slow, FPS) == 0.0


def test_feet_in_the_air_are_not_skating():
    flying = standing(lift=0.3)
    flying[:, :, 0] += np.arange(60)[:, None] * (2.0 / FPS)
    assert physics.foot_skating_ratio(flying, FPS) == 0.0
    assert physics.dart_skate(flying, FPS) == pytest.approx(0.0, abs=1e-9)


def test_body_below_the_floor_penetrates_by_the_right_depth():
    assert physics.floor_penetration(standing())["max_depth"] < 0.005
    sunk = standing(lift=-0.12)
    lowest = standing()[:, :, 2].min()
    pen = physics.floor_penetration(sunk)
    assert pen["mean_depth"] == pytest.approx(0.12 - lowest, abs=1e-6)
    assert pen["max_depth"] == pytest.approx(0.12 - lowest, abs=1e-6)
    assert pen["frame_ratio"] == 1.0
    half = np.concatenate([standing(30), standing(30, lift=-0.2)])
    assert physics.floor_penetration(half)["frame_ratio"] == pytest.approx(0.5)


def test_jerk_is_zero_for_constant_velocity_and_large_for_noise():
    glide = standing()
    glide[:, :, 1] += np.arange(60)[:, None] * 0.03
    assert physics.jerk(glide, FPS) == pytest.approx(0.0, abs=1e-6)
    noisy = glide + np.random.default_rng(0).normal(scale=0.01, size=glide.shape)
    assert physics.jerk(noisy, FPS) > 100.0


def test_overlapping_bodies_penetrate_and_bodies_two_metres_apart_do_not():
    a = standing(10)
    far = standing(10, xy=(2.0, 0.0))
    assert physics.interperson_penetration(a, far)["frame_ratio"] == 0.0
    assert physics.interperson_penetration(a, far)["max_depth"] == 0.0
    same = physics.interperson_penetration(a, standing(10, xy=(0.05, 0.0)))
    assert same["frame_ratio"] == 1.0 and same["max_depth"] > 0.15
    # Facing each other 0.15 m apart (pelvis to pelvis): the torsos (radius ~0.11) overlap.
    close = standing(10, xy=(0.0, -0.15), yaw=np.pi)
    assert physics.interperson_penetration(a, close)["max_depth"] > 0.05


def test_penetration_depth_matches_the_capsule_radii():
    # Side by side in T-pose with A's left wrist 3 cm (in x) from B's right wrist: only the two
    # forearm capsules (radius 0.035 each) meet, at their wrist ends.
    a = standing(2)
    lw, rw = BODY_JOINT_NAMES.index("left_wrist"), BODY_JOINT_NAMES.index("right_wrist")
    sep = a[0, lw, 0] - a[0, rw, 0] + 0.03
    b = standing(2, xy=(sep, 0.0))
    gap = np.linalg.norm(a[0, lw] - b[0, rw])
    assert 0.03 <= gap < 0.07
    assert physics.interperson_depth(a, b)[0] == pytest.approx(0.07 - gap, abs=1e-6)


def test_segment_distance_matches_brute_force():
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(120, 4, 3))
    pts[:40, 1] = pts[:40, 0]      # first segment is a point
    pts[40:80, 3] = pts[40:80, 2]  # second segment is a point
    d = physics.segment_distance(pts[:, 0], pts[:, 1], pts[:, 2], pts[:, 3])
    w = np.linspace(0, 1, 201)[None, :, None]
    a = pts[:, None, 0] + (pts[:, 1] - pts[:, 0])[:, None] * w
    b = pts[:, None, 2] + (pts[:, 3] - pts[:, 2])[:, None] * w
    brute = np.linalg.norm(a[:, :, None] - b[:, None], axis=-1).min(axis=(1, 2))
    assert (d <= brute + 1e-9).all() and np.abs(d - brute).max() < 5e-3


def test_voxel_wall_through_the_body_is_detected_and_a_wall_beside_it_is_not():
    size = 0.05
    occ = np.zeros((80, 80, 50), dtype=bool)
    origin = np.array([-2.0, -2.0, -0.5])
    wall_y = int(round((0.0 - origin[1]) / size))  # a 5 cm slab at y in [0, 0.05)
    occ[:, wall_y, :] = True
    grid = physics.VoxelGrid(occ, origin, size)
    person = standing(20, xy=(0.0, 0.01))
    hit = physics.scene_penetration(person, grid)
    assert hit["frame_ratio"] == 1.0 and 0 < hit["sample_ratio"] < 1
    away = physics.scene_penetration(standing(20, xy=(0.0, 0.6)), grid)
    assert away == {"frame_ratio": 0.0, "sample_ratio": 0.0}
    # Walking through it: only the frames near y = 0 penetrate.
    walk = standing(40)
    walk[:, :, 1] += np.linspace(-1.0, 1.0, 40)[:, None]
    ratio = physics.scene_penetration(walk, grid)["frame_ratio"]
    assert 0.0 < ratio < 0.5


def test_floor_slab_at_z0_does_not_count_standing_feet():
    occ = np.zeros((20, 20, 10), dtype=bool)
    occ[:, :, :5] = True  # slab from z = -0.5 to 0
    grid = physics.VoxelGrid(occ, np.array([-1.0, -1.0, -0.5]), 0.1)
    standing_up = standing(5, lift=0.01)
    assert physics.scene_penetration(standing_up, grid)["frame_ratio"] == 0.0
    assert physics.scene_penetration(standing(5, lift=-0.2), grid)["frame_ratio"] == 1.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="joints must have shape"):
        physics.jerk(np.zeros((10, 21, 3)), FPS)
    with pytest.raises(ValueError, match="non-finite"):
        physics.floor_penetration(np.full((3, 22, 3), np.nan))
    with pytest.raises(ValueError, match="fps"):
        physics.jerk(standing(5), 0.0)
    with pytest.raises(ValueError, match="bool"):
        physics.VoxelGrid(np.zeros((2, 2, 2)), np.zeros(3), 0.1)
    with pytest.raises(ValueError, match="same shape"):
        physics.interperson_depth(standing(5), standing(6))
