"""The ReMoGen-style ablation of the shipped runtime on held-out data (docs/modules.md).

    python -m inference_backend.runtime.ablation [--model-dir assets] [--seeds 3] [--max-frames 300]

Two-person (HHI): every test pair of the motion cache, each person in turn the reactor, the
other the partner. The reactor starts at its real first pose and gets its real take's text;
the reaction is generated causally (`generate`) and compared with the real reactor, relative
to the partner (`eval.interaction.interaction_errors`: relative position error, facing error,
distance MAE/correlation, contact onset/IoU) plus inter-person penetration
(`eval.physics.interperson_penetration`). Variants, as ReMoGen's table:

* prior only                 modules at α = 0, segment decoded once (a DART rollout)
* frozen prior + HHI          HHI module at α = 1, no refinement
* frozen prior + HHI + FWSR   the shipped default
* sliding full window         + HHI, the whole 10-step diffusion at every frame (F = 1)

ms/frame is the mean (and p99) wall time of `ReactionSession.step` over the first role's frames
(CPU, the given thread count), pipelining off, for the comparison with the paper's per-frame
cost; the latency of the default (pipelined) session is `python -m inference_backend.bench session`.

Denoising error: the training objective (latent MSE of the one-step x0 prediction) on the
held-out two-person windows, prior alone vs with the HHI module.

Scene (HSI): each single-person test take (first `max_frames` frames) gets a scene derived from
its own motion (`data.scene_occupancy.scene_from_motion`, seeded; floor layer left out of the
count); the motion is generated with the take's text and real start, without a partner, with
the HSI module at α = 0 and at α = 1; reported: the fraction of frames in which the body
(capsule axis samples) is inside an occupied voxel (`eval.physics.scene_penetration`), and
the real motion's value (0 by construction) as a check.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from ..body import canonical_rest
from ..paths import ASSETS_DIR, default_cache_dir

HHI_VARIANTS = {
    "prior only": dict(weights={"hhi": 0.0, "hsi": 0.0}, refine=False),
    "frozen prior + HHI": dict(weights={"hhi": 1.0, "hsi": 0.0}, refine=False),
    "frozen prior + HHI + FWSR": dict(weights={"hhi": 1.0, "hsi": 0.0}, refine=True),
    "sliding full window every frame (+HHI)": dict(weights={"hhi": 1.0, "hsi": 0.0}, refine=False, segment_frames=1),
}
METRICS = ("rel_position_error", "facing_error_deg", "distance_mae", "distance_corr", "contact_iou",
           "pen_frame_ratio")


def _start(motion) -> dict:
    return {"transl": motion.transl[0], "rotations": motion.rotations[0]}


def hhi_roles(cache, max_frames: int, split: str = "test"):
    from ..data.dataset import load_pairs

    rest = canonical_rest()
    roles = []
    for a, b in load_pairs(cache, split):
        n = min(a.num_frames, max_frames)
        a, b = a.slice(0, n), b.slice(0, n)
        for reactor, partner in ((a, b), (b, a)):
            roles.append((reactor, partner.joints(rest), reactor.joints(rest)))
    return roles


def hhi_table(rt, cache, seeds: int, max_frames: int, log=print, extra: dict | None = None,
              split: str = "test", quick: bool = False) -> dict:
    """The HHI rows; `extra` maps a row name to another runtime (the fine-tune / no-prior
    ablations, each with its own denoiser), evaluated as "+ HHI" without FWSR."""
    from ..eval import interaction, physics
    from ..eval.benchmark import HAND_CONTACTS
    from .batch import generate
    from .session import ReactionSession

    roles = hhi_roles(cache, max_frames, split)
    if not roles:
        return {}
    out = {}
    runs = [(name, rt, kw) for name, kw in HHI_VARIANTS.items()
            if not quick or name in ("prior only", "frozen prior + HHI")]
    runs += [(name, other, HHI_VARIANTS["frozen prior + HHI"]) for name, other in (extra or {}).items()]
    for name, rt, kw in runs:
        if kw.get("refine") and rt.refiner is None or kw["weights"]["hhi"] > 0 and "hhi" not in rt.modules:
            continue
        log(f"HHI: {name}")
        per_seed = []
        for seed in range(seeds):
            rows = []
            for reactor, partner, real in roles:
                g = generate(partner, reactor.text, seed=seed, start=_start(reactor), runtime=rt, **kw)["joints"]
                err = interaction.interaction_errors(g, real, partner, 30.0, HAND_CONTACTS)
                err["pen_frame_ratio"] = physics.interperson_penetration(g, partner)["frame_ratio"]
                rows.append(err)
            per_seed.append({m: float(np.nanmean([r[m] for r in rows])) for m in METRICS})
        reactor, partner, _ = roles[0]
        session_kw = {k: v for k, v in kw.items() if k != "weights"}
        s = ReactionSession(reactor.text, kw["weights"], start=_start(reactor), runtime=rt, pipeline=False, **session_kw)
        times = []
        for frame in partner:
            t = time.perf_counter()
            s.step(frame)
            times.append(time.perf_counter() - t)
        out[name] = {m: (float(np.mean([p[m] for p in per_seed])), float(np.std([p[m] for p in per_seed])))
                     for m in METRICS}
        out[name]["ms_per_frame"] = (float(np.mean(times[1:]) * 1000), float(np.percentile(times[1:], 99) * 1000))
    out["_roles"] = [f"{r.take_id} reacting to its partner ({r.text}), {len(p)} frames" for r, p, _ in roles]
    return out


@torch.no_grad()
def denoising_table(rt, cache, split: str = "test", seed: int = 0, batches: int = 20) -> dict:
    """The training objective on held-out windows: latent MSE of the x0 prediction (every
    diffusion step equally likely, text kept) by the prior alone and with the HHI module, on the
    two-person windows of `split`, each person as the reactor, no mirroring."""
    from ..data.dataset import load_pairs
    from ..models.mixing import Active
    from ..train.module_common import SEG, PairBank, canonical_batch

    if "hhi" not in rt.modules:
        return {}
    prior, module = rt.prior, rt.modules["hhi"]
    bank = PairBank.build(load_pairs(cache, split), cache, mirror=False)
    gen = torch.Generator().manual_seed(seed)
    sums = {"prior only": 0.0, "prior + HHI": 0.0}
    for _ in range(batches):
        start = bank.sample_starts(64, gen)
        transl, rot, text = bank.windows(start)
        history, future, frame = canonical_batch(prior, transl, rot)
        z0 = prior.vae.encode(history, future)[0] * prior.latent_scale
        t = torch.randint(prior.diffusion.steps, (64,), generator=gen)
        z_t = prior.diffusion.q_sample(z0, t, torch.randn(z0.shape, generator=gen))
        keep = torch.ones(64, dtype=torch.bool)
        cues = module.encode(bank.partner_window(start + SEG, module.config.window), frame)
        sums["prior only"] += float(((prior.denoiser(z_t, t, text, history, keep) - z0) ** 2).mean())
        x0 = rt.modulator.bind([Active(module, cues, 1.0)])(z_t, t, text, history, keep)
        sums["prior + HHI"] += float(((x0 - z0) ** 2).mean())
    return {k: v / batches for k, v in sums.items()}


def hsi_table(rt, cache, seeds: int, max_frames: int, max_takes: int, log=print) -> dict:
    from ..data.dataset import load_motions
    from ..data.scene_occupancy import scene_from_motion
    from ..eval import physics
    from .batch import generate
    from .scene import SceneGrid

    if "hsi" not in rt.modules:
        return {}
    rest = canonical_rest()
    takes = [m.slice(0, min(m.num_frames, max_frames)) for m in load_motions(cache, "test")]
    takes = [m for m in takes if m.num_frames >= 30][:max_takes]
    rows = {"real motion (clear by construction)": [], "prior + FWSR, HSI α = 0": [], "prior + HSI + FWSR, α = 1": []}
    for seed in range(seeds):
        log(f"HSI: seed {seed}")
        for m in takes:
            grid = scene_from_motion(m, rest, np.random.default_rng(seed))
            occ = grid.occupancy.copy()
            tops = grid.origin[2] + (np.arange(occ.shape[2]) + 1) * grid.voxel
            occ[:, :, tops <= 1e-9] = False  # the floor is the physics table's business
            check = physics.VoxelGrid(occ, grid.origin, grid.voxel)
            scene = SceneGrid.from_corner(grid.occupancy, grid.origin, grid.voxel)
            rows["real motion (clear by construction)"].append(
                (seed, physics.scene_penetration(m.joints(rest), check)["frame_ratio"]))
            for name, alpha in (("prior + FWSR, HSI α = 0", 0.0), ("prior + HSI + FWSR, α = 1", 1.0)):
                g = generate(None, m.text, {"hhi": 0.0, "hsi": alpha}, seed=seed, scene=scene, start=_start(m),
                             frames=m.num_frames, runtime=rt)["joints"]
                rows[name].append((seed, physics.scene_penetration(g, check)["frame_ratio"]))
    out = {}
    for name, vals in rows.items():
        per_seed = [np.mean([v for s, v in vals if s == seed]) for seed in range(seeds)]
        out[name] = (float(np.mean(per_seed)), float(np.std(per_seed)))
    out["_takes"] = [f"{m.take_id} ({m.text}), {m.num_frames} frames" for m in takes]
    return out


def format_tables(hhi: dict, hsi: dict, denoise: dict | None = None) -> str:
    lines = []
    if denoise:
        lines += ["| held-out two-person windows | latent MSE of the x0 prediction ↓ |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in denoise.items()] + [""]
    if hhi:
        head = ("| variant | rel. position err m ↓ | facing err ° ↓ | distance MAE m ↓ | distance corr ↑ "
                "| contact IoU ↑ | interpen. frames ↓ | ms/frame (mean, p99) ↓ |")
        lines += [head, "|" + "---|" * 8]
        for name, r in hhi.items():
            if name.startswith("_"):
                continue
            cells = [f"{r[m][0]:.3f} ± {r[m][1]:.3f}" for m in METRICS]
            cells.append(f"{r['ms_per_frame'][0]:.1f}, {r['ms_per_frame'][1]:.1f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "Roles: " + "; ".join(hhi["_roles"]), ""]
    if hsi:
        lines += ["| variant | frames with the body in an object ↓ |", "|---|---|"]
        for name, value in hsi.items():
            if not name.startswith("_"):
                lines.append(f"| {name} | {value[0]:.3f} ± {value[1]:.3f} |")
        lines += ["", "Takes: " + "; ".join(hsi["_takes"])]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference_backend.runtime.ablation", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default=str(ASSETS_DIR))
    ap.add_argument("--cache", default=str(default_cache_dir()))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--max-frames", type=int, default=300, help="frames per take (salsa takes are ~1000)")
    ap.add_argument("--max-takes", type=int, default=12, help="HSI: test takes used")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--only", choices=["hhi", "hsi"], help="run one table only")
    ap.add_argument("--split", default="test", help="HHI pairs of this split (val: for choosing a module)")
    ap.add_argument("--quick", action="store_true", help="HHI: only the prior-only and + HHI rows")
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=DIR",
                    help="another runtime folder evaluated as an HHI row (module-hhi prior_mode ablations)")
    args = ap.parse_args(argv)
    from .model import load_runtime

    torch.set_num_threads(args.threads)
    rt = load_runtime(args.model_dir)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    extra = {}
    for item in args.extra:
        name, _, folder = item.partition("=")
        extra[name] = load_runtime(folder)
    hhi = hhi_table(rt, args.cache, args.seeds, args.max_frames, log, extra, args.split, args.quick) \
        if args.only != "hsi" else {}
    hsi = hsi_table(rt, args.cache, args.seeds, args.max_frames, args.max_takes, log) if args.only != "hhi" else {}
    denoise = denoising_table(rt, args.cache, args.split) if args.only != "hsi" else {}
    print(f"runtime: {rt.describe()}; {torch.get_num_threads()} threads; {args.seeds} seeds (mean ± std over seeds)\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"hhi": hhi, "hsi": hsi, "denoising": denoise, "runtime": rt.describe()}, f, indent=1)
    print(format_tables(hhi, hsi, denoise))
    return 0


if __name__ == "__main__":
    sys.exit(main())
