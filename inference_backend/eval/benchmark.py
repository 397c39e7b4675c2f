"""The benchmark behind `docs/results.md`: every section on the TEST split, fixed seeds, N replications.

Each section returns a `Table` (rows of mean ± 95 % interval over replications) or an
`Unavailable` with the reason, so parts whose models are not trained yet say so instead of
failing, and fill in once their weights exist:

* text-to-motion quality (evaluator metrics) of the real test windows, sanity variants (shuffled
  texts, added noise, a frozen pose) and, with `assets/prior/`, prior rollouts from each test
  window's first poses;
* physics of the same motions (`physics.py`);
* two-person interaction on the test pairs (`interaction.py`), each side in turn the reactor:
  simple baselines and, with the prior / HHI module / refiner in `assets/`, generated reactions;
* scene penetration against scenes derived from each held-out take (`data.scene_occupancy`);
* speed (seconds per generated frame) where a model exists.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..body import RestSkeleton, canonical_rest
from ..paths import ASSETS_DIR
from . import interaction, metrics, physics
from .evaluator import WINDOW, Evaluator
from .samples import Take, Windows, load_takes, take_windows

NOISE_STD = 0.03        # m, per joint and frame, for the "noisy" sanity row
SLIDE_SPEED = 1.0       # m/s, whole-body drift along world x for the "sliding" sanity row
DELAY_S = 0.5           # s, for the "delayed real reactor" baseline
HAND_JOINTS = ("left_wrist", "right_wrist")
TOUCHABLE = ("left_wrist", "right_wrist", "left_elbow", "right_elbow", "left_shoulder", "right_shoulder",
             "left_collar", "right_collar", "spine3", "neck", "head")
# A reactor's hand near the partner's hands, arms, shoulders, chest or head.
HAND_CONTACTS = tuple((h, j) for h in HAND_JOINTS for j in TOUCHABLE)


@dataclass
class Table:
    title: str
    columns: list[tuple[str, str]]                  # (key, header)
    rows: list[tuple[str, dict]] = field(default_factory=list)  # (row name, {key: (mean, ci)})
    notes: list[str] = field(default_factory=list)


@dataclass
class Unavailable:
    title: str
    reason: str


@dataclass
class Context:
    cache: Path
    replications: int
    seed: int
    evaluator: Evaluator
    rest: RestSkeleton
    test: list[Take]
    windows: Windows                 # test windows (60 frames, stride 30)
    train_emb: np.ndarray            # evaluator embeddings of train windows: the FID reference
    pool_texts: list[str]            # distinct texts of every split: R-precision distractors
    pool_emb: np.ndarray
    assets: Path = ASSETS_DIR
    log: Callable[[str], None] = print
    extras: dict = field(default_factory=dict)  # plot data

    def seeds(self):
        return [self.seed + r for r in range(self.replications)]


def make_context(cache: Path, replications: int, seed: int, evaluator: Evaluator, assets: Path = ASSETS_DIR,
                 log=print) -> Context:
    from ..data.dataset import read_index

    rest = canonical_rest()
    test = load_takes(cache, "test", rest)
    train = load_takes(cache, "train", rest)
    windows = take_windows(test)
    log(f"test: {len(test)} takes, {len(windows.joints)} windows; train: {len(train)} takes")
    train_emb = evaluator.embed_motion(take_windows(train).joints)
    pool = sorted({e.get("text", "") for e in read_index(cache).values()} - {""})
    return Context(cache, replications, seed, evaluator, rest, test, windows, train_emb, pool,
                   evaluator.embed_texts(pool), assets, log)


def _aggregate(per_rep: list[dict]) -> dict:
    return {k: metrics.mean_ci([r[k] for r in per_rep]) for k in per_rep[0]}


# ----------------------------------------------------------------------------- text to motion
T2M_COLUMNS = [("fid", "FID ↓"), ("r1", "R@1 ↑"), ("r2", "R@2 ↑"), ("r3", "R@3 ↑"), ("mm_dist", "MM-Dist ↓"),
               ("diversity", "Diversity →"), ("multimodality", "MModality")]
PHYS_COLUMNS = [("skating_ratio", "Skating ratio ↓"), ("dart_skate", "Skate (DART) m/s ↓"),
                ("floor_mean_depth", "Floor pen. mean m ↓"), ("floor_max_depth", "Floor pen. max m ↓"),
                ("floor_frame_ratio", "Floor pen. frames ↓"), ("jerk", "Jerk m/s³")]


def t2m_scores(ctx: Context, joints: np.ndarray, texts: list[str], seed: int) -> dict:
    emb = ctx.evaluator.embed_motion(joints)
    own = ctx.pool_emb[[ctx.pool_texts.index(t) for t in texts]]
    r = metrics.r_precision(emb, texts, ctx.pool_texts, ctx.pool_emb, seed)
    return {"fid": metrics.fid(ctx.train_emb, emb), "r1": r[0], "r2": r[1], "r3": r[2],
            "mm_dist": metrics.mm_dist(emb, own), "diversity": metrics.diversity(emb, seed),
            "multimodality": metrics.multimodality(metrics.group_by_text(emb, texts), seed)}


def physics_scores(joints: np.ndarray, fps: float = 30.0) -> dict:
    per = [physics.physics_metrics(j, fps) for j in joints]
    return {k: float(np.mean([p[k] for p in per])) for k in per[0]}


def sanity_variants(ctx: Context) -> dict[str, Callable[[int], tuple[np.ndarray, list[str]]]]:
    """Name -> (seed -> (windows, texts)) for the real test windows and deliberately broken copies."""
    w = ctx.windows

    def real(seed):
        return w.joints, w.texts

    def shuffled(seed):
        return w.joints, metrics.derange_texts(w.texts, seed)

    def noisy(seed):
        rng = np.random.default_rng(seed)
        return (w.joints + rng.normal(0.0, NOISE_STD, w.joints.shape)).astype(np.float32), w.texts

    def frozen(seed):
        return np.repeat(w.joints[:, :1], WINDOW, axis=1), w.texts

    def sliding(seed):  # a drift no limb motion explains: feet on the floor skate
        drift = (np.arange(WINDOW) * SLIDE_SPEED / 30.0)[None, :, None, None] * np.array([1.0, 0.0, 0.0])
        return (w.joints + drift).astype(np.float32), w.texts

    return {"Real test motion (reference)": real, "Real test motion, texts swapped between groups": shuffled,
            f"Real + Gaussian noise σ = {NOISE_STD * 100:g} cm": noisy, "Frozen first pose": frozen,
            f"Real + sideways drift {SLIDE_SPEED:g} m/s (sliding)": sliding}


def prior_rollouts(ctx: Context):
    """seed -> (windows, texts) of prior rollouts from every test window's first 1+H poses, or the
    reason it is unavailable."""
    if not (ctx.assets / "prior" / "config.json").is_file():
        return f"no motion prior in {ctx.assets / 'prior'} (train it: `python -m inference_backend.train prior-denoiser`)"
    import torch

    from ..models.features import HISTORY
    from ..models.prior import MotionPrior
    from ..rollout import rollout

    prior = MotionPrior.load(ctx.assets / "prior")
    w = ctx.windows
    starts_t, starts_r = [], []
    for k, s in w.origins:
        m = ctx.test[k].motion
        # The history frames are the window's first H; one more pose before them feeds the deltas.
        idx = np.clip(np.arange(s - 1, s + HISTORY), 0, m.num_frames - 1)
        starts_t.append(m.transl[idx])
        starts_r.append(m.rotations[idx])
    start = (torch.as_tensor(np.stack(starts_t)), torch.as_tensor(np.stack(starts_r)))
    cache: dict[int, np.ndarray] = {}

    def generate(seed):
        if seed not in cache:
            out = rollout(prior, list(w.texts), WINDOW / 30.0, seed=seed, start=start)
            cache[seed] = out.joints[:, :WINDOW].astype(np.float32)
        return cache[seed], w.texts

    return generate


def text_to_motion(ctx: Context) -> tuple[Table, Table]:
    cols_note = ("FID against the train-split windows; R-precision with a fixed batch of 32 "
                 "(1 true + 31 distractor texts); chance = 3.1 / 6.3 / 9.4 %.")
    swap_note = ("Texts swapped between groups: each distinct test text is replaced by another one (a random "
                 "derangement per replication), so no window keeps its description; it lands near chance, a "
                 "little above when the swap pairs near-synonyms (\"walk\" ↔ \"walk, shake hands\").")
    t2m = Table("Text-to-motion quality (test split, 2 s windows)", T2M_COLUMNS, notes=[cols_note, swap_note])
    phys = Table("Physical plausibility (test split, 2 s windows)", PHYS_COLUMNS, notes=[
        "Read skating against the real reference row: our foot joint is the ball of the foot at sole level "
        "(SMPL's sits a few cm above the sole), so GMD's 5 cm contact band also catches the toe passing low "
        "during swing; real walking takes score 0.2-0.5 on their own."])
    variants = dict(sanity_variants(ctx))
    gen = prior_rollouts(ctx)
    if isinstance(gen, str):
        t2m.notes.append(f"Prior rollouts: not available: {gen}.")
        phys.notes.append(f"Prior rollouts: not available: {gen}.")
    else:
        variants["Prior rollout (history = real first 2 frames)"] = gen
    for name, make in variants.items():
        ctx.log(f"text-to-motion: {name}")
        reps_t, reps_p = [], []
        for seed in ctx.seeds():
            joints, texts = make(seed)
            reps_t.append(t2m_scores(ctx, joints, texts, seed))
            if "swapped" not in name:
                reps_p.append(physics_scores(joints))
        t2m.rows.append((name, _aggregate(reps_t)))
        if reps_p:
            phys.rows.append((name, _aggregate(reps_p)))
    ctx.extras["t2m"] = t2m
    return t2m, phys


# ----------------------------------------------------------------------------- two people
HHI_COLUMNS = [("rel_position_error", "Rel. position err m ↓"), ("facing_error_deg", "Facing err ° ↓"),
               ("distance_mae", "Distance MAE m ↓"), ("distance_corr", "Distance corr ↑"),
               ("contact_onset_error_s", "Contact onset err s ↓"), ("contact_iou", "Contact IoU ↑"),
               ("pen_frame_ratio", "Interpen. frames ↓"), ("pen_mean_depth", "Interpen. mean depth m ↓")]


def _roles(cache: Path, rest: RestSkeleton):
    """(partner Take, real reactor Take) for every test pair, each side in turn the reactor."""
    from ..data.dataset import load_pairs

    from .samples import motion_to_take

    out = []
    for a, b in load_pairs(cache, "test"):
        ta, tb = motion_to_take(a, rest), motion_to_take(b, rest)
        out += [(ta, tb), (tb, ta)]
    return out


def _pair_scores(generated: np.ndarray, real: np.ndarray, partner: np.ndarray, fps: float) -> dict:
    err = interaction.interaction_errors(generated, real, partner, fps, HAND_CONTACTS)
    pen = physics.interperson_penetration(generated, partner)
    return {k: err[k] for k, _ in HHI_COLUMNS[:6]} | {"pen_frame_ratio": pen["frame_ratio"],
                                                      "pen_mean_depth": pen["mean_depth"]}


def _reaction_generators(ctx: Context):
    """Name -> (partner, real, seed) -> generated reactor joints, from the runtime in assets/."""
    if not (ctx.assets / "prior" / "config.json").is_file():
        return {}, f"no motion prior in {ctx.assets / 'prior'}"
    from ..runtime.batch import generate
    from ..runtime.model import load_runtime

    rt = load_runtime(ctx.assets)

    def make(weights, refine):
        def run(partner: Take, real: Take, seed: int) -> np.ndarray:
            m = real.motion
            out = generate(partner.joints, real.text, weights=weights, seed=seed, fps=partner.fps, runtime=rt,
                           start={"transl": m.transl[0], "rotations": m.rotations[0]}, refine=refine)
            return out["joints"]
        return run

    gens = {"Prior only (no modules)": make({"hhi": 0.0, "hsi": 0.0}, False)}
    missing = []
    if "hhi" in rt.modules:
        gens["ReMoGen: prior + HHI module"] = make({"hhi": 1.0, "hsi": 0.0}, False)
        if rt.refiner is not None:
            gens["ReMoGen: prior + HHI + FWSR"] = make({"hhi": 1.0, "hsi": 0.0}, True)
        else:
            missing.append("FWSR refiner (assets/modules/fwsr.*)")
    else:
        missing.append("HHI module (assets/modules/hhi.*)")
    return gens, ("; ".join(f"not available: {m}" for m in missing) or None)


def two_person(ctx: Context) -> tuple[Table | Unavailable, Table | Unavailable]:
    roles = _roles(ctx.cache, ctx.rest)
    if not roles:
        msg = "not available: no two-person takes in the test split of the cache"
        return Unavailable("Two-person interaction", msg), Unavailable("Real pairs", msg)
    fps = roles[0][0].fps
    real = Table("Real test pairs (reference)", [("frame_ratio", "Interpen. frames"),
                                                  ("mean_depth", "Interpen. mean depth m"),
                                                  ("max_depth", "Interpen. max depth m"),
                                                  ("contact_frames", "Hand-contact frames")])
    for p, r in roles[::2]:
        pen = physics.interperson_penetration(p.joints, r.joints)
        contact = interaction.contact_frames(r.joints, p.joints, HAND_CONTACTS).mean()
        real.rows.append((f"{p.take_id} + {r.take_id}: {p.text}",
                          {k: (v, 0.0) for k, v in pen.items()} | {"contact_frames": (float(contact), 0.0)}))

    table = Table(f"Reactor vs real reactor, relative to the partner ({len(roles)} reactor roles from "
                  f"{len(roles) // 2} test pairs)", HHI_COLUMNS,
                  notes=["Contact = a reactor wrist within 0.2 m of the partner's wrists, elbows, shoulders, "
                         "collars, chest, neck or head; onset error averages the roles where both touch."])
    delay = int(round(DELAY_S * fps))

    def static(p, r, seed):
        return np.repeat(r.joints[:1], len(r.joints), axis=0)

    def delayed(p, r, seed):
        return np.concatenate([np.repeat(r.joints[:1], delay, axis=0), r.joints[:-delay]])

    gens = {"Real reactor (identity check)": lambda p, r, seed: r.joints,
            "Static reactor (first frame held)": static, f"Real reactor delayed {DELAY_S:g} s": delayed}
    model_gens, note = _reaction_generators(ctx)
    if note:
        table.notes.append(f"Generated reactions: {note}.")
    gens.update(model_gens)
    profiles = {}
    for name, fn in gens.items():
        ctx.log(f"two-person: {name}")
        reps = []
        for seed in ctx.seeds():
            per = []
            for i, (p, r) in enumerate(roles):
                g = fn(p, r, seed)
                per.append(_pair_scores(g, r.joints, p.joints, fps))
                if seed == ctx.seed and i == 0:
                    profiles[name] = interaction.pelvis_distance(g, p.joints)
            reps.append({k: float(np.nanmean([x[k] for x in per])) for k in per[0]})
        table.rows.append((name, _aggregate(reps)))
    ctx.extras["distance_profiles"] = (f"{roles[0][1].take_id} reacting to {roles[0][0].take_id}: "
                                       f"{roles[0][0].text}", profiles, fps)
    return table, real


# ----------------------------------------------------------------------------- scene
def _without_floor(grid) -> physics.VoxelGrid:
    occ = grid.occupancy.copy()
    tops = grid.origin[2] + (np.arange(occ.shape[2]) + 1) * grid.voxel
    occ[:, :, tops <= 1e-9] = False
    return physics.VoxelGrid(occ, grid.origin, grid.voxel)


def scene(ctx: Context) -> Table:
    from ..data.scene_occupancy import scene_from_motion

    table = Table("Scene penetration on held-out scenes (one derived scene per test take)",
                  [("frame_ratio", "Frames in an object ↓"), ("sample_ratio", "Body samples in an object ↓")],
                  notes=["Scenes: `data.scene_occupancy.scene_from_motion` (floor, seats, obstacles kept clear "
                         "of the real motion), seed = replication seed; the floor layer is left out here "
                         "(floor contact is the physics table's floor penetration)."])
    grids = {seed: [_without_floor(scene_from_motion(t.motion, ctx.rest, np.random.default_rng(seed)))
                    for t in ctx.test] for seed in ctx.seeds()}
    # name -> seed -> [(joints, index of the test take whose scene applies)]
    rows = {"Real test motion (clear by construction)": lambda seed: [(t.joints, k) for k, t in enumerate(ctx.test)]}
    gen = prior_rollouts(ctx)
    if isinstance(gen, str):
        table.notes.append(f"Prior rollouts: not available: {gen}.")
    else:
        rows["Prior rollout, scene ignored (2 s from each test window)"] = \
            lambda seed: [(j, k) for j, (k, _) in zip(gen(seed)[0], ctx.windows.origins)]
    table.notes.append("ReMoGen with the HSI module on derived scenes (HSI at alpha 0 and 1, FWSR on): "
                       "`python -m inference_backend.runtime.ablation --only hsi`, reported in docs/modules.md.")
    for name, fn in rows.items():
        ctx.log(f"scene: {name}")
        reps = []
        for seed in ctx.seeds():
            per = [physics.scene_penetration(j, grids[seed][k]) for j, k in fn(seed)]
            reps.append({k: float(np.mean([x[k] for x in per])) for k in per[0]})
        table.rows.append((name, _aggregate(reps)))
    return table


# ----------------------------------------------------------------------------- speed
def speed(ctx: Context) -> Table | Unavailable:
    if not (ctx.assets / "prior" / "config.json").is_file():
        return Unavailable("Speed", f"not available: no motion prior in {ctx.assets / 'prior'}")
    import torch

    from ..models.prior import MotionPrior
    from ..rollout import rollout

    prior = MotionPrior.load(ctx.assets / "prior")
    table = Table(f"Speed (CPU, {torch.get_num_threads()} torch thread(s), batch 1)",
                  [("s_per_frame", "s / frame ↓"), ("frames", "frames timed")],
                  notes=["Prior rollout = the prior alone (8 frames per 10-step denoise + decode). Reaction = "
                         "`runtime.batch.generate` over a whole test partner sequence with every module the "
                         "runtime loaded. Both: wall time / frames; 0.1 s/frame is the real-time line ReMoGen uses."])
    rollout(prior, ["walk"], 0.5, seed=0)  # warm-up
    reps = []
    for seed in ctx.seeds():
        t = time.perf_counter()
        out = rollout(prior, ["walk"], 4.0, seed=seed)
        frames = out.joints.shape[1] - 2
        reps.append({"s_per_frame": (time.perf_counter() - t) / frames, "frames": float(frames)})
    table.rows.append(("Prior rollout", _aggregate(reps)))
    roles = _roles(ctx.cache, ctx.rest)
    gens, _ = _reaction_generators(ctx)
    if roles and gens:
        name, fn = list(gens.items())[-1]
        partner, real = roles[0]
        reps = []
        for seed in ctx.seeds():
            t = time.perf_counter()
            out = fn(partner, real, seed)
            reps.append({"s_per_frame": (time.perf_counter() - t) / len(out), "frames": float(len(out))})
        table.rows.append((f"Reaction: {name}", _aggregate(reps)))
    return table
