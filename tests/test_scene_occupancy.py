"""Scenes derived from motions: obstacles never intersect the body; seats under sitting pelvises."""
from __future__ import annotations

import numpy as np
import pytest

from inference_backend.body import canonical_rest
from inference_backend.data.motion import Motion
from inference_backend.data.retarget import retarget
from inference_backend.data.scene_occupancy import (EGO_SHAPE, capsule_samples, ego_transform, occupancy_around,
                                                     scene_from_motion)


def _walk(frames=60) -> Motion:
    rest = canonical_rest()
    transl = np.stack([np.linspace(0, 1.5, frames), np.zeros(frames), np.full(frames, rest.pelvis_height)], -1)
    return Motion("walk", 30.0, transl.astype(np.float32), np.tile(np.eye(3, dtype=np.float32), (frames, 22, 1, 1)))


def _assert_clear(grid, motion, rest):
    pts, radii = capsule_samples(motion.joints(rest).astype(np.float64), 0.02)
    idx = grid.world_to_index(pts)
    inside = np.all((idx >= 0) & (idx < np.array(grid.occupancy.shape)), axis=1)
    hit = grid.occupancy[tuple(idx[inside].T)]
    z = pts[inside][:, 2]
    # nothing the body passes through is occupied (the floor layer lies below z = 0)
    assert not hit[z > 0.0].any()


@pytest.mark.parametrize("seed", range(5))
def test_obstacles_never_intersect_the_body(seed):
    rest, m = canonical_rest(), _walk()
    grid = scene_from_motion(m, rest, np.random.default_rng(seed), num_obstacles=12)
    _assert_clear(grid, m, rest)
    above_floor = grid.occupancy[:, :, 1:]
    assert above_floor.any(), "some obstacles should have been placed"
    assert grid.occupancy[:, :, 0].all(), "the floor layer is occupied"


@pytest.mark.data
def test_real_take_scene_with_seat(data_dir):
    from inference_backend.data.catalog import find_takes

    rest = canonical_rest()
    take = [t for t in find_takes(data_dir) if t.take_id == "18_14" and t.key.startswith("cgspeed")][0]
    m = retarget(take.load(), rest)  # "run, scramble for last seat": A sits down
    grid = scene_from_motion(m, rest, np.random.default_rng(0))
    _assert_clear(grid, m, rest)
    j = m.joints(rest)
    f = m.num_frames - 5                                   # seated at the end
    below = np.array([j[f, 0, 0], j[f, 0, 1], 0.15])     # inside the seat, under the pelvis
    i = grid.world_to_index(below[None])[0]
    assert grid.occupancy[tuple(i)], "a seat should support the seated pelvis"


def test_ego_grid_is_centred_on_the_ego():
    rest, m = canonical_rest(), _walk()
    grid = scene_from_motion(m, rest, np.random.default_rng(0), num_obstacles=0)
    for frame in (0, 30):
        local = occupancy_around(grid.occupancy, grid.origin, grid.voxel, ego_transform(m, rest, frame))
        assert local.shape == EGO_SHAPE
        assert local[:, :, 0].all() and not local[:, :, 1:].any()  # floor only
    # a box right in front of the ego shows up in front (-y of the canonical frame is forward)
    world = grid.occupancy.copy()
    front = m.joints(rest)[0, 0] + np.array([0.0, -0.6, 0.0])
    i = grid.world_to_index(front[None])[0]
    world[i[0], i[1], 2:8] = True
    local = occupancy_around(world, grid.origin, grid.voxel, ego_transform(m, rest, 0))
    xs, ys, zs = np.nonzero(local[:, :, 1:])
    assert len(xs) and ys.mean() < EGO_SHAPE[1] / 2 - 3
