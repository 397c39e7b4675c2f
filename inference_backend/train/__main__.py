"""Training entry point: `python -m inference_backend.train <stage> [options]`.

Stages:
  prior-vae        train the primitive VAE            (config: configs/prior_vae.json)
  prior-denoiser   train the latent denoiser          (config: configs/prior_denoiser.json)
  export-prior     copy the EMA weights of both to assets/prior/ (+ config.json, prints the hash)
  plot             draw docs/prior_training.png from the loss logs
  module-hhi       human-human interaction module on the frozen prior   (module_hhi.py, own options)
  module-hsi       human-scene interaction module on the frozen prior   (module_hsi.py, own options)
  fwsr             frame-wise segment refiner, prior + modules frozen  (fwsr.py, own options)

Checkpoints land in --out (default <cache>/train/<stage>); `--resume` continues from there.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..paths import REPO_ROOT, default_cache_dir
from .loop import pick_device, run

CONFIG_DIR = Path(__file__).parent / "configs"
STAGE_CONFIG = {"prior-vae": "prior_vae.json", "prior-denoiser": "prior_denoiser.json"}


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        path = CONFIG_DIR / path
    if not path.is_file():
        raise SystemExit(f"--config: no such config file: {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--config {path}: not valid JSON ({exc})") from exc


def build_stage(name: str, cfg: dict, args, device, generator):
    if name == "prior-vae":
        from .prior_vae import VAEStage

        return VAEStage(cfg, args.data, args.cache, device, generator)
    from .prior_denoiser import DenoiserStage

    return DenoiserStage(cfg, args.data, args.cache, device, generator, args.vae)


def train(name: str, args) -> dict:
    cfg = load_config(args.config or STAGE_CONFIG[name])
    if args.steps is not None:
        cfg["steps"] = args.steps
    torch.manual_seed(cfg.get("seed", 0))
    generator = torch.Generator().manual_seed(cfg.get("seed", 0))
    device = pick_device(args.device)
    torch.set_num_threads(max(1, args.threads)) if args.threads else None
    stage = build_stage(name, cfg, args, device, generator)
    if name == "prior-denoiser" and args.export:
        from .export import export_prior, train_standing_pose

        standing = train_standing_pose(args.cache) if args.data == "cache" else None

        def on_checkpoint(ema, step, _out=Path(args.export)):
            print(f"[export] step {step}: prior hash "
                  f"{export_prior(args.vae, args.out, _out, cfg.get('guidance', 2.5), standing)}",
                  flush=True)
        stage.on_checkpoint = on_checkpoint
    logs = run(stage, cfg, Path(args.out), generator, args.resume, args.max_minutes, quiet=args.quiet)
    print(json.dumps({"stage": name, "device": str(device), **{k: round(v, 5) for k, v in logs.items()}}))
    return logs


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    interaction = {"module-hhi": "module_hhi", "module-hsi": "module_hsi", "fwsr": "fwsr"}
    if argv[:1] and argv[0] in interaction:
        import importlib

        return importlib.import_module(f".{interaction[argv[0]]}", __package__).main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m inference_backend.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["prior-vae", "prior-denoiser", "export-prior", "plot"])
    ap.add_argument("--data", default="cache", help="'cache' (the retargeted motion cache) or 'synthetic[:N]'")
    ap.add_argument("--cache", type=Path, default=default_cache_dir(), help="cache folder (motions, text embeddings)")
    ap.add_argument("--config", help="config json (a path, or a name in inference_backend/train/configs)")
    ap.add_argument("--out", type=Path, help="checkpoint folder (default <cache>/train/<stage>)")
    ap.add_argument("--vae", type=Path, help="prior-vae checkpoint folder (default <cache>/train/prior-vae)")
    ap.add_argument("--denoiser", type=Path,
                    help="export-prior: prior-denoiser checkpoint folder (default <cache>/train/prior-denoiser)")
    ap.add_argument("--steps", type=int, help="override the config's step count")
    ap.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    ap.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this much wall time")
    ap.add_argument("--export", type=Path, help="prior-denoiser: export to this folder at every checkpoint")
    ap.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    args.vae = args.vae or args.cache / "train" / "prior-vae"
    if args.stage in ("prior-vae", "prior-denoiser"):
        args.out = args.out or args.cache / "train" / args.stage
        train(args.stage, args)
    elif args.stage == "export-prior":
        from .export import export_prior, train_standing_pose

        out = args.out or REPO_ROOT / "assets" / "prior"
        den = args.denoiser or args.cache / "train" / "prior-denoiser"
        guidance = load_config(args.config or STAGE_CONFIG["prior-denoiser"]).get("guidance", 2.5)
        standing = train_standing_pose(args.cache) if args.data == "cache" else None
        print(f"prior hash {export_prior(args.vae, den, out, guidance, standing)} -> {out}")
    else:
        from .plot import plot_logs

        out = args.out or REPO_ROOT / "docs" / "prior_training.png"
        plot_logs(args.cache / "train", out)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
