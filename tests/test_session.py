"""ReactionSession, generate and load_runtime: the interface the server and the add-on use.

Most tests run on a tiny random prior with random (non-identity) HHI/HSI modules and refiner,
so every path of the real runtime is exercised in seconds; the last ones load the shipped
weights when they exist."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inference_backend.body import canonical_rest
from inference_backend.paths import ASSETS_DIR
from inference_backend.runtime import poses
from inference_backend.runtime.batch import Cancelled, Request, generate_batch
from inference_backend.runtime.session import ReactionSession, SceneGrid, generate, load_runtime
from inference_backend.train.synthetic import synthetic_motion

from .tiny_prior import tiny_runtime

KEYS = {"transl": (3,), "global_orient": (3,), "body_pose": (63,), "joints": (22, 3)}


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs the tiny models on one intra-op thread (see conftest)."""


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    return tiny_runtime(tmp_path_factory.mktemp("tiny_runtime"))


@pytest.fixture(scope="module")
def prior_only(tmp_path_factory):
    return tiny_runtime(tmp_path_factory.mktemp("tiny_prior_only"), modules=False)


@pytest.fixture(scope="module")
def partner():
    return synthetic_motion(5, seconds=1.4).joints(canonical_rest())  # (42, 22, 3)


@pytest.fixture(scope="module")
def scene():
    occ = np.zeros((60, 60, 20), bool)
    occ[:, :, 0] = True          # floor
    occ[30:34, 20:40, 1:10] = True  # a wall
    return SceneGrid(occ, np.array([-3.0, -3.0, -0.05]), 0.1)


def _run(session, frames):
    outs = [session.step(f) for f in frames]
    return {k: np.stack([o[k] for o in outs]) for k in KEYS}


def test_step_output_format(rt, partner):
    assert set(rt.modules) == {"hhi", "hsi"} and rt.refiner is not None
    s = ReactionSession("shakes hands with the partner", runtime=rt)
    for f in partner[:10]:
        out = s.step(f)
        assert set(out) == set(KEYS)
        for k, shape in KEYS.items():
            assert out[k].shape == shape and out[k].dtype == np.float32 and np.isfinite(out[k]).all()
    # joints are the FK of the emitted parameters on the prior's skeleton
    from inference_backend.body import joint_positions
    from inference_backend.body.rotations import axis_angle_to_matrix

    aa = np.concatenate([out["global_orient"], out["body_pose"]]).reshape(22, 3)
    fk = joint_positions(axis_angle_to_matrix(aa.astype(np.float64)), rt.prior.offsets.numpy().astype(np.float64),
                         out["transl"].astype(np.float64))
    assert np.abs(fk - out["joints"]).max() < 1e-4


@pytest.mark.parametrize("pipeline", [False, True])
def test_reaction_at_t_ignores_partner_after_t(rt, partner, scene, pipeline):
    t = 20
    other = partner.copy()
    other[t + 1:] += np.array([0.7, -0.4, 0.0], np.float32)  # the partner jumps away after frame t
    other[t + 1:, :, 2] *= 0.5
    a = _run(ReactionSession("pushes the partner", runtime=rt, scene=scene, pipeline=pipeline, seed=3), partner)
    b = _run(ReactionSession("pushes the partner", runtime=rt, scene=scene, pipeline=pipeline, seed=3), other)
    for k in KEYS:
        np.testing.assert_array_equal(a[k][:t + 1], b[k][:t + 1])
    assert np.abs(a["joints"][t + 2:] - b["joints"][t + 2:]).max() > 1e-4  # and it does react afterwards
    ga = generate(partner, "pushes the partner", runtime=rt, scene=scene, seed=3)
    gb = generate(other, "pushes the partner", runtime=rt, scene=scene, seed=3)
    for k in KEYS:
        np.testing.assert_allclose(ga[k][:t + 1], gb[k][:t + 1], atol=1e-5)


def test_session_without_pipelining_matches_generate(rt, partner, scene):
    stepped = _run(ReactionSession("waves", runtime=rt, scene=scene, pipeline=False, seed=7), partner)
    whole = generate(partner, "waves", runtime=rt, scene=scene, seed=7)
    for k in KEYS:
        np.testing.assert_allclose(stepped[k], whole[k], atol=2e-4)
    # and ReactionSession.generate runs the same thing with the session's settings
    again = ReactionSession("waves", runtime=rt, scene=scene, seed=7).generate(partner)
    np.testing.assert_array_equal(again["joints"], whole["joints"])


def test_alpha_zero_without_refiner_is_the_prior(rt, prior_only, partner, scene):
    zero = generate(partner, "walks", {"hhi": 0.0, "hsi": 0.0}, seed=1, scene=scene, runtime=rt, refine=False)
    prior = generate(partner, "walks", seed=1, scene=scene, runtime=prior_only)
    for k in KEYS:
        np.testing.assert_array_equal(zero[k], prior[k])
    moved = generate(partner, "walks", {"hhi": 1.0, "hsi": 1.0}, seed=1, scene=scene, runtime=rt, refine=False)
    assert np.abs(moved["joints"] - prior["joints"]).max() > 1e-4


def test_default_weights(rt, scene):
    assert ReactionSession("x", runtime=rt).alphas == {"hhi": 1.0, "hsi": 0.0}
    assert ReactionSession("x", runtime=rt, scene=scene).alphas == {"hhi": 1.0, "hsi": 1.0}
    empty = SceneGrid(np.zeros((4, 4, 4), bool), np.zeros(3), 0.1)
    assert ReactionSession("x", runtime=rt, scene=empty).alphas["hsi"] == 0.0
    assert ReactionSession("x", {"hsi": 0.5}, runtime=rt, scene=scene).alphas == {"hhi": 1.0, "hsi": 0.5}


def test_batch_rows_are_independent(rt, partner, scene):
    short = partner[:25] + np.array([1.0, 0.0, 0.0], np.float32)
    reqs = [Request(partner, "waves", seed=2, scene=scene), Request(short, "runs away", {"hhi": 2.0}, seed=9, fps=24)]
    both = generate_batch(reqs, rt)
    alone = [generate(partner, "waves", seed=2, scene=scene, runtime=rt),
             generate(short, "runs away", {"hhi": 2.0}, seed=9, fps=24, runtime=rt)]
    for got, want in zip(both, alone):
        for k in KEYS:
            np.testing.assert_allclose(got[k], want[k], atol=2e-4)
    assert both[1]["joints"].shape == (25, 22, 3)


@pytest.mark.parametrize("fps", [24.0, 60.0])
def test_other_frame_rates(rt, partner, fps):
    s = ReactionSession("walks", runtime=rt, fps=fps, pipeline=False)
    stepped = _run(s, partner[:30])
    whole = generate(partner[:30], "walks", fps=fps, runtime=rt)
    assert stepped["joints"].shape == (30, 22, 3) and np.isfinite(stepped["joints"]).all()
    np.testing.assert_allclose(stepped["joints"], whole["joints"], atol=2e-4)
    # causal at this rate too
    other = partner[:30].copy()
    other[16:] += 1.0
    changed = _run(ReactionSession("walks", runtime=rt, fps=fps, pipeline=False), other)
    np.testing.assert_array_equal(stepped["joints"][:16], changed["joints"][:16])


def test_partner_history_counts_and_empty_history_is_none(rt, partner):
    with_hist = _run(ReactionSession("x", runtime=rt, partner_history=partner[:10]), partner[10:20])
    none = _run(ReactionSession("x", runtime=rt), partner[10:20])
    empty = _run(ReactionSession("x", runtime=rt, partner_history=np.zeros((0, 22, 3), np.float32)), partner[10:20])
    np.testing.assert_array_equal(none["joints"], empty["joints"])
    assert np.abs(with_hist["joints"] - none["joints"]).max() > 1e-5


def test_default_start_faces_the_partner_at_distance():
    joints = canonical_rest().positions[:22].astype(np.float32) + np.array([2.0, 1.0, 0.95], np.float32)
    transl, rot = poses.default_start(joints, canonical_rest().body_offsets)
    # the partner faces -y (rest pose): the reactor stands 1.5 m in front, at -y, facing +y
    assert np.allclose(transl[:2], [2.0, 1.0 - poses.START_DISTANCE], atol=0.05)
    forward = rot[0] @ np.array([0.0, -1.0, 0.0])
    assert forward[1] > 0.99
    # both stand on the same floor
    from inference_backend.body import joint_positions

    own = joint_positions(rot.astype(np.float64), canonical_rest().body_offsets, transl.astype(np.float64))
    assert abs(own[:, 2].min() - joints[:, 2].min()) < 1e-4


def test_given_start_is_used(rt, partner):
    rot = poses.standing_rotations()
    start = {"transl": np.array([5.0, 5.0, 0.95]), "rotations": rot}
    out = ReactionSession("x", runtime=rt, start=start).step(partner[0])
    assert np.linalg.norm(out["transl"][:2] - [5.0, 5.0]) < 1.0
    aa = {"transl": [5.0, 5.0, 0.95], "global_orient": np.zeros(3), "body_pose": np.zeros(63)}
    assert np.isfinite(ReactionSession("x", runtime=rt, start=aa).step(partner[0])["joints"]).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"weights": {"hhi": float("nan")}}, "finite"),
    ({"weights": {"hhi": 1e6}}, "outside"),
    ({"weights": {"hxi": 1.0}}, "unknown module"),
    ({"fps": 0.0}, "fps"),
    ({"fps": float("inf")}, "fps"),
    ({"seed": -1}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"intent": 3}, "intent"),
    ({"partner_history": np.zeros((5, 24, 3))}, r"\(T, 22, 3\)"),
    ({"partner_history": np.full((5, 22, 3), np.nan)}, "non-finite"),
    ({"scene": SceneGrid(np.zeros((0, 5, 5), bool), np.zeros(3), 0.1)}, "empty"),
    ({"scene": SceneGrid(np.zeros((5, 5), bool), np.zeros(3), 0.1)}, "3D"),
    ({"scene": SceneGrid(np.zeros((5, 5, 5), bool), np.array([0, np.inf, 0]), 0.1)}, "origin"),
    ({"scene": SceneGrid(np.zeros((5, 5, 5), bool), np.zeros(3), -1.0)}, "voxel_size"),
    ({"start": {"transl": [0, 0, 1]}}, "missing"),
    ({"start": {"transl": [0, 0, 1], "rotations": np.ones((22, 3, 3))}}, "not rotation"),
])
def test_bad_session_arguments(rt, kwargs, message):
    args = {"intent": "x", **kwargs}
    with pytest.raises(ValueError, match=message):
        ReactionSession(args.pop("intent"), runtime=rt, **args)


@pytest.mark.parametrize("frame, message", [
    (np.full((22, 3), np.nan, np.float32), "non-finite"),
    (np.full((22, 3), np.inf, np.float32), "non-finite"),
    (np.zeros((24, 3), np.float32), r"\(22, 3\)"),
    (np.zeros((22, 2), np.float32), r"\(22, 3\)"),
    (np.zeros((1, 22, 3), np.float32), r"\(22, 3\)"),
    (np.full((22, 3), 1e7, np.float32), "metres"),
    ("not an array", "joint positions"),
])
def test_bad_frames_are_refused_and_the_session_goes_on(rt, partner, frame, message):
    s = ReactionSession("x", runtime=rt, pipeline=False)
    ref = ReactionSession("x", runtime=rt, pipeline=False)
    first = s.step(partner[0])
    ref.step(partner[0])
    with pytest.raises(ValueError, match=message):
        s.step(frame)
    np.testing.assert_array_equal(s.step(partner[1])["joints"], ref.step(partner[1])["joints"])
    assert np.isfinite(first["joints"]).all()


def test_generate_refuses_bad_partners(rt, partner):
    with pytest.raises(ValueError, match="no frames"):
        generate(np.zeros((0, 22, 3), np.float32), "x", runtime=rt)
    bad = partner.copy()
    bad[7, 3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        generate(bad, "x", runtime=rt)


def test_progress_and_cancel(rt, partner):
    calls = []
    generate(partner, "x", runtime=rt, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (len(partner), len(partner))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    with pytest.raises(Cancelled):
        generate(partner, "x", runtime=rt, progress=lambda d, t: False)


def test_sliding_window_every_frame_runs(rt, partner):
    """The ablation that regenerates the whole segment at every frame (segment_frames=1)."""
    out = generate(partner[:12], "x", runtime=rt, segment_frames=1)
    assert np.isfinite(out["joints"]).all()


def test_runtime_is_loaded_once(rt):
    assert load_runtime(rt_path(rt)) is rt


def rt_path(rt):
    from inference_backend.runtime.model import _cache

    return next(k[0] for k, v in _cache.items() if v is rt)


# ----------------------------------------------------------------------------- shipped weights
needs_assets = pytest.mark.skipif(not (ASSETS_DIR / "prior" / "config.json").is_file(),
                                  reason="the trained prior is not in assets/prior yet")


@needs_assets
@pytest.mark.slow
def test_shipped_runtime_reacts(partner):
    from inference_backend.models.prior import prior_hash

    rt = load_runtime(ASSETS_DIR)
    digest = prior_hash(ASSETS_DIR / "prior")
    assert rt.prior_hash == digest
    s = ReactionSession("shakes hands with the partner", runtime=rt)
    out = _run(s, partner[:40])
    assert np.isfinite(out["joints"]).all()
    # the reactor stays on its feet near where it started and moves like a person
    speed = np.linalg.norm(np.diff(out["transl"], axis=0), axis=-1) * 30
    assert speed.max() < 8.0
    assert prior_hash(ASSETS_DIR / "prior") == digest


@needs_assets
def test_shipped_modules_match_the_shipped_prior():
    """Modules in assets/modules were trained against the prior in assets/prior (the hash
    recorded at training equals the prior's hash now: the prior was not changed by training)."""
    import json

    from inference_backend.models.prior import prior_hash

    digest = prior_hash(ASSETS_DIR / "prior")
    files = sorted((ASSETS_DIR / "modules").glob("*.json"))
    if not files:
        pytest.skip("no modules exported yet")
    for f in files:
        meta = json.loads(f.read_text())["meta"]
        assert meta["prior_hash"] == digest, f"{f.name} was trained against another prior"


def test_scene_only_generation(rt, scene):
    """No partner: the scene alone (what the HSI evaluation runs)."""
    out = generate(None, "walks forward", scene=scene, frames=20, runtime=rt)
    assert out["joints"].shape == (20, 22, 3) and np.isfinite(out["joints"]).all()
    off = generate(None, "walks forward", {"hsi": 0.0}, scene=scene, frames=20, runtime=rt)
    assert np.abs(out["joints"] - off["joints"]).max() > 1e-5
    with pytest.raises(ValueError, match="needs a partner"):
        generate(None, "x", {"hhi": 1.0}, frames=5, runtime=rt)
    with pytest.raises(ValueError, match="frames"):
        generate(None, "x", runtime=rt)


def test_worker_thread_pipelining_equals_inline(rt, partner, scene):
    inline = _run(ReactionSession("waves", runtime=rt, scene=scene, seed=4, background=False), partner)
    s = ReactionSession("waves", runtime=rt, scene=scene, seed=4, background=True)
    threaded = _run(s, partner)
    s.close()
    for k in KEYS:
        np.testing.assert_array_equal(inline[k], threaded[k])


def test_ablation_tables_render():
    from inference_backend.runtime.ablation import METRICS, format_tables

    hhi = {"prior only": {**{m: (0.5, 0.1) for m in METRICS}, "ms_per_frame": (3.0, 20.0)}, "_roles": ["18_01 ..."]}
    hsi = {"prior + FWSR, HSI α = 0": (0.25, 0.01), "_takes": ["02_01 (walk), 300 frames", "x"]}
    text = format_tables(hhi, hsi, {"prior only": 0.25, "prior + HHI": 0.2})
    assert "| prior only | 0.500 ± 0.100 |" in text and "| prior + FWSR, HSI α = 0 | 0.250 ± 0.010 |" in text
    assert "| prior + HHI | 0.2000 |" in text


def test_emitted_poses_never_sink_below_the_floor(rt):
    """The floor is the start pose's lowest joint, lowered by partner frames; a pose that would
    sink below it is lifted onto it, frame by frame."""
    from inference_backend.body import forward_kinematics
    from inference_backend.runtime.engine import Engine

    eng = Engine(rt, torch.zeros(1, 384), {}, [None], [0])
    rot = torch.as_tensor(poses.standing_rotations())[None]
    eng.start(torch.tensor([[0.0, 0.0, 1.0]]), rot)
    lowest = forward_kinematics(rot, eng.offsets, torch.tensor([[0.0, 0.0, 1.0]]))[1][..., 2].min()
    sinking = torch.tensor([[[0.0, 0.0, 1.0 - d], [0.1, 0.0, 1.0 - d]] for d in (0.05,)])     # (1, 2, 3)
    rots = rot[:, None].repeat(1, 2, 1, 1, 1)
    lifted = eng.on_floor(sinking, rots, None)
    assert torch.allclose(lifted[..., 2], torch.ones(1, 2), atol=1e-5)        # back onto the start floor
    assert torch.equal(lifted[..., :2], sinking[..., :2])                     # only lifted
    # a partner standing 3 cm lower lowers the floor from that frame on
    partner = torch.zeros(1, 2, 4, 22, 3)
    partner[..., 2] = lowest + 1.0
    partner[:, 1, -1, :, 2] = lowest - 0.03
    lifted = eng.on_floor(sinking, rots, partner)
    assert torch.allclose(lifted[0, :, 2], torch.tensor([1.0, 0.97]), atol=1e-5)
    assert torch.isclose(eng.floor[0], lowest - 0.03, atol=1e-6)
    assert torch.equal(eng.on_floor(sinking + 1.0, rots, None), sinking + 1.0)  # above the floor: untouched
