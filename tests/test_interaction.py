"""Meta-Interaction modules, FWSR block and their training stages (on a tiny random prior and
synthetic motions: the same code paths as the real stages, in seconds)."""
from __future__ import annotations

import json
import math
from dataclasses import asdict

import pytest
import torch

from inference_backend.body import canonical_rest
from inference_backend.models.features import Frame
from inference_backend.models.fwsr import FrameRefiner, RefinerConfig
from inference_backend.models.interaction import (InteractionModule, LocalGrid, MetaInteractionBlock, ModuleConfig,
                                                  OthersEncoder, SceneEncoder, load_module, local_occupancy,
                                                  partner_features, pool_to_cell, save_module)
from inference_backend.models.prior import prior_hash
from inference_backend.train.synthetic import synthetic_motion

from .tiny_prior import fake_embed, write_random_prior

REST = canonical_rest()


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs the tiny models on one intra-op thread (see conftest)."""


def _frame_z(angle: float, origin=(0.0, 0.0)) -> Frame:
    c, s = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]])
    return Frame(rot, torch.tensor([[origin[0], origin[1], 0.0]]))


def _partner_window(seed=3, length=16):
    return torch.as_tensor(synthetic_motion(seed, seconds=1.0).joints(REST)[:length])[None]


def test_partner_features_are_invariant_to_a_shared_world_motion():
    """Moving ego and partner together (rotation about z + shift) leaves the cues unchanged."""
    window = _partner_window()
    ego = _frame_z(0.3, (0.5, -1.0))
    feats = partner_features(window, ego)
    world = _frame_z(1.1, (4.0, 2.0))  # the extra world motion
    moved_window = world.points_to_world(window)
    moved_ego = world.compose(ego)
    moved = partner_features(moved_window, moved_ego)
    assert feats.shape == (1, 16, 138)
    assert torch.allclose(feats, moved, atol=1e-4)


def test_partner_features_describe_facing_and_approach():
    """A partner 2 m in front of the ego (ego faces -y), facing it (+y), walking closer."""
    rest = torch.as_tensor(REST.positions[:22], dtype=torch.float32)
    turn = torch.tensor([[-1.0, 0, 0], [0, -1.0, 0], [0, 0, 1.0]])  # 180° about z: faces +y
    frames = [(rest @ turn.T) + torch.tensor([0.0, -2.0 + 0.05 * i, 0.9]) for i in range(16)]
    feats = partner_features(torch.stack(frames)[None], _frame_z(0.0))[0, -1]
    facing, direction, dist, closing = feats[132:134], feats[134:136], feats[136], feats[137]
    assert float(facing @ torch.tensor([0.0, 1.0])) > 0.99  # the rest hips are not exactly level in y
    assert torch.allclose(direction, torch.tensor([0.0, -1.0]), atol=1e-4)
    assert abs(float(dist) - (2.0 - 0.05 * 15)) < 1e-4
    assert abs(float(closing) / 0.2 - 0.05 * 30) < 1e-3   # 1.5 m/s towards the ego


def test_others_encoder_is_causal():
    """Each cue token sees the window only up to its own time step."""
    torch.manual_seed(0)
    enc = OthersEncoder(window=16, channels=32, d_cue=16, tokens=4, token_stride=4).eval()
    window, frame = _partner_window(), _frame_z(0.0)
    base = enc(window, frame)
    changed = window.clone()
    changed[:, -1] += 0.3  # only the newest frame differs
    out = enc(changed, frame)
    assert not torch.allclose(out[:, 0], base[:, 0])          # the current-frame token sees it
    assert torch.allclose(out[:, 1:], base[:, 1:], atol=1e-6)  # tokens of earlier times do not


def test_local_occupancy_puts_a_box_in_front_of_the_ego():
    world = torch.zeros(40, 40, 20, dtype=torch.bool)
    corner = torch.tensor([-5.0, -5.0, -0.5])
    voxel = 0.25
    # a box at world x in [1.0, 1.5], y in [-0.25, 0.25], z in [0, 1]
    world[24:26, 19:21, 2:6] = True
    # ego at the origin facing +x: rest faces -y, so the frame is a +90° turn about z
    grid = LocalGrid((16, 16, 8), 0.25, -0.25)
    occ = local_occupancy(world, corner, voxel, _frame_z(math.pi / 2), grid)[0]
    centres = grid.centres()[occ > 0]
    assert len(centres) > 0
    # in the ego frame the box is straight ahead: local -y, about 1-1.5 m away
    assert (centres[:, 1] < -0.9).all() and (centres[:, 1] > -1.6).all()
    assert (centres[:, 0].abs() < 0.3).all()
    # outside the world grid is free
    far = local_occupancy(world, corner, voxel, _frame_z(0.0, (100.0, 0.0)), grid)
    assert far.sum() == 0


def test_pooling_keeps_thin_walls():
    occ = torch.zeros(40, 40, 10, dtype=torch.bool)
    occ[17, :, :] = True  # a 2.5 cm wall
    pooled, voxel = pool_to_cell(occ, 0.025, 0.125)
    assert voxel == pytest.approx(0.125) and pooled.shape == (8, 8, 2)
    assert pooled[3].all() and pooled.sum() == 8 * 2


def test_scene_encoder_patches_are_local():
    enc = SceneEncoder(LocalGrid((8, 8, 8), 0.25, 0.0), patch=4, d_model=16, layers=1, heads=2, d_cue=8)
    occ = torch.zeros(1, 8, 8, 8)
    occ[0, 5, 1, 6] = 1.0  # patch (1, 0, 1) -> index 1*4 + 0*2 + 1 = 5
    patches = enc.patchify(occ)
    assert patches.shape == (1, 8, 64)
    assert patches.sum(-1).nonzero().flatten().tolist() == [0, 5] or patches[0, 5].sum() == 1
    assert patches[0, 5].sum() == 1 and patches.sum() == 1
    assert enc(occ).shape == (1, 8, 8)


def test_fresh_block_and_refiner_are_the_identity():
    block = MetaInteractionBlock(d_prior=32, d_cue=16, d_inner=16, heads=2)
    h = torch.randn(2, 5, 32)
    assert torch.equal(block(h, block.memory(torch.randn(2, 3, 16))), torch.zeros_like(h))
    ref = FrameRefiner(RefinerConfig(latent_dim=16, d_model=32, layers=1, heads=2, grid_shape=[16, 16, 8])).eval()
    z0 = torch.randn(2, 16)
    z = ref(z0, torch.tensor([0, 7]), torch.randn(2, 2, 276), _partner_window().repeat(2, 1, 1, 1),
            Frame(_frame_z(0.0).rotation.repeat(2, 1, 1), torch.zeros(2, 3)), ref.scene_tokens(None, 2))
    assert torch.equal(z, z0)


def test_module_files_round_trip(tmp_path):
    torch.manual_seed(0)
    module = InteractionModule(ModuleConfig(kind="hsi", d_prior=32, layers=[1], d_cue=16, d_inner=16, heads=2,
                                            grid_shape=[8, 8, 8], grid_cell=0.25)).eval()
    with torch.no_grad():
        module.blocks[0].film.weight.normal_()
    save_module(module, tmp_path / "hsi", asdict(module.config), {"prior_hash": "abc"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hsi.json", "hsi.safetensors"]
    loaded, meta = load_module(tmp_path / "hsi")
    assert meta == {"prior_hash": "abc"}
    occ = (torch.rand(1, 8, 8, 8) > 0.7).float()
    h = torch.randn(1, 5, 32)
    assert torch.equal(loaded.delta(1, h, loaded.encode(occ)), module.delta(1, h, module.encode(occ)))
    (tmp_path / "bad.json").write_text(json.dumps({"format": "something-else"}))
    (tmp_path / "bad.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="not a module file"):
        load_module(tmp_path / "bad")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_module(tmp_path / "absent")


# ----------------------------------------------------------------------------- training stages
@pytest.fixture()
def tiny_setup(tmp_path, monkeypatch):
    import inference_backend.train.module_common as common

    write_random_prior(tmp_path / "prior")
    monkeypatch.setattr(common, "embed_texts_cached", lambda texts, cache: fake_embed(texts))
    pairs = [(synthetic_motion(i, seconds=1.5), synthetic_motion(i + 7, seconds=1.5)) for i in range(2)]
    motions = [synthetic_motion(i, seconds=2.0) for i in range(2)]
    return tmp_path, pairs, motions


def _small(cfg, **kw):
    return {**cfg, "batch": 4, "steps": 4, "checkpoint_every": 2, "log_every": 1, "warmup": 1,
            "module": {**cfg.get("module", {}), "d_cue": 16, "d_inner": 16, "heads": 2}, **kw}


def test_hhi_stage_trains_the_module_only_and_resumes(tiny_setup):
    from inference_backend.train.loop import run
    from inference_backend.train.module_hhi import DEFAULT_CONFIG, HHIStage

    tmp, pairs, _ = tiny_setup
    before = prior_hash(tmp / "prior")
    cfg = _small(DEFAULT_CONFIG)
    gen = torch.Generator().manual_seed(0)
    stage = HHIStage(cfg, tmp / "prior", tmp, torch.device("cpu"), gen, pairs=pairs, export_dir=tmp / "modules")
    assert all(not p.requires_grad for p in stage.fp.prior.denoiser.parameters())
    logs = run(stage, cfg, tmp / "ckpt", gen, resume=False, quiet=True)
    assert math.isfinite(logs["loss"])
    stage.fp.assert_unchanged()
    assert prior_hash(tmp / "prior") == before
    assert any(b.film.weight.abs().sum() > 0 for b in stage.model.blocks)  # the module did learn
    # checkpoints and exports: safetensors + json only, no pickle
    assert sorted(p.name for p in (tmp / "ckpt").iterdir()) == ["checkpoint.json", "checkpoint.safetensors",
                                                                "log.jsonl"]
    module, meta = load_module(tmp / "modules" / "hhi")
    assert meta["prior_hash"] == before and meta["step"] == 4
    # resume continues from step 4 to 6
    cfg6 = {**cfg, "steps": 6}
    stage2 = HHIStage(cfg6, tmp / "prior", tmp, torch.device("cpu"), gen, pairs=pairs)
    run(stage2, cfg6, tmp / "ckpt", gen, resume=True, quiet=True)
    steps = [json.loads(line)["step"] for line in (tmp / "ckpt" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_changed_prior_is_detected(tiny_setup):
    from safetensors.torch import load_file, save_file

    from inference_backend.train.module_common import FrozenPrior, PriorChanged

    tmp, _, _ = tiny_setup
    fp = FrozenPrior(tmp / "prior", torch.device("cpu"))
    fp.assert_unchanged()
    with torch.no_grad():  # in memory
        next(fp.prior.denoiser.parameters()).add_(1e-3)
    with pytest.raises(PriorChanged, match="in memory"):
        fp.assert_unchanged()
    fp = FrozenPrior(tmp / "prior", torch.device("cpu"))
    weights = load_file(str(tmp / "prior" / "vae.safetensors"))  # on disk
    key = sorted(weights)[0]
    weights[key] = weights[key] + 1e-3
    save_file(weights, str(tmp / "prior" / "vae.safetensors"))
    with pytest.raises(PriorChanged, match="files"):
        fp.assert_unchanged()


def test_hsi_stage_and_penetration_term(tiny_setup):
    from inference_backend.train.loop import run
    from inference_backend.train.module_common import occupancy_at
    from inference_backend.train.module_hsi import DEFAULT_CONFIG, HSIStage

    tmp, _, motions = tiny_setup
    cfg = _small(DEFAULT_CONFIG, module={"d_cue": 16, "d_inner": 16, "heads": 2, "grid_shape": [16, 16, 8],
                                         "grid_cell": 0.25, "layers": "all", "window": 16})
    gen = torch.Generator().manual_seed(0)
    stage = HSIStage(cfg, tmp / "prior", tmp, torch.device("cpu"), gen, motions=motions, progress=False)
    logs = run(stage, cfg, tmp / "ckpt_hsi", gen, resume=False, quiet=True)
    assert math.isfinite(logs["loss"]) and "penetration" in logs
    stage.fp.assert_unchanged()
    # the trilinear lookup agrees with the grid at cell centres
    grid = stage.grid
    occ = (torch.rand(1, *grid.shape, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    centres = grid.centres()[None]
    assert torch.allclose(occupancy_at(centres, occ, grid), occ, atol=1e-5)


def test_fwsr_stage_uses_frozen_modules(tiny_setup):
    from inference_backend.train.fwsr import DEFAULT_CONFIG, FWSRStage
    from inference_backend.train.loop import run

    from .tiny_prior import write_random_modules

    tmp, pairs, motions = tiny_setup
    write_random_modules(tmp / "modules", tmp / "prior")
    cfg = {**DEFAULT_CONFIG, "batch": 4, "steps": 3, "checkpoint_every": 3, "log_every": 1, "warmup": 1,
           "refiner": {"d_model": 32, "layers": 1, "heads": 2, "window": 16, "partner_tokens": 2,
                       "grid_shape": [16, 16, 8], "grid_cell": 0.25}}
    gen = torch.Generator().manual_seed(0)
    stage = FWSRStage(cfg, tmp / "prior", tmp / "modules", tmp, torch.device("cpu"), gen, pairs=pairs,
                      motions=motions, export_dir=tmp / "out", progress=False)
    assert sorted(stage.modules) == ["hhi", "hsi"]
    frozen = {k: v.clone() for k, v in stage.modules["hhi"].state_dict().items()}
    logs = run(stage, cfg, tmp / "ckpt_fwsr", gen, resume=False, quiet=True)
    assert math.isfinite(logs["loss"]) and logs["latent_before"] > 0
    assert all(torch.equal(v, stage.modules["hhi"].state_dict()[k]) for k, v in frozen.items())
    stage.fp.assert_unchanged()
    assert (tmp / "out" / "fwsr.safetensors").is_file()


@pytest.mark.parametrize("mode", ["finetune", "scratch"])
def test_joint_ablation_modes_leave_the_prior_and_write_a_runtime(tiny_setup, mode):
    """The fine-tune / no-prior ablations train their own denoiser copy and write a runtime
    folder whose module is tied to that copy; the shipped prior stays as it was."""
    from inference_backend.runtime.model import load_runtime
    from inference_backend.train.loop import run
    from inference_backend.train.module_hhi import DEFAULT_CONFIG, HHIStage

    tmp, pairs, _ = tiny_setup
    before = prior_hash(tmp / "prior")
    cfg = _small(DEFAULT_CONFIG, prior_mode=mode, steps=2, checkpoint_every=2)
    gen = torch.Generator().manual_seed(0)
    stage = HHIStage(cfg, tmp / "prior", tmp, torch.device("cpu"), gen, pairs=pairs, out=tmp / "abl")
    assert any(p.requires_grad for p in stage.model.denoiser.parameters())
    run(stage, cfg, tmp / "abl", gen, resume=False, quiet=True)
    assert prior_hash(tmp / "prior") == before
    rt = load_runtime(tmp / "abl" / "runtime")
    assert "hhi" in rt.modules and rt.prior_hash != before and not rt.notes


def test_validation_scores_and_exports_only_improvements(tiny_setup):
    """With held-out pairs the stage scores every checkpoint's EMA module; with select_best it
    exports only the best."""
    from inference_backend.train.loop import run
    from inference_backend.train.module_hhi import DEFAULT_CONFIG, HHIStage

    tmp, pairs, _ = tiny_setup
    val = [(synthetic_motion(20, seconds=1.5), synthetic_motion(21, seconds=1.5))]
    cfg = _small(DEFAULT_CONFIG, steps=4, checkpoint_every=1, val_samples=16, select_best=True)
    gen = torch.Generator().manual_seed(0)
    stage = HHIStage(cfg, tmp / "prior", tmp, torch.device("cpu"), gen, pairs=pairs, val_pairs=val,
                     export_dir=tmp / "modules", out=tmp / "ck_val")
    run(stage, cfg, tmp / "ck_val", gen, resume=False, quiet=True)
    rows = [json.loads(line) for line in (tmp / "ck_val" / "val.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(r["val_latent_prior"] == rows[0]["val_latent_prior"] for r in rows)  # fixed held-out draws
    best = min(rows, key=lambda r: r["val_latent"])
    _, meta = load_module(tmp / "modules" / "hhi")
    assert meta["step"] == best["step"] and meta["val_latent"] == best["val_latent"]
