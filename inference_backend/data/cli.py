"""`python -m inference_backend.data build | show | check`: build the motion cache, look at a take,
measure how faithfully every take is retargeted."""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from ..body import canonical_rest
from ..body.skeleton import SHIPPED_REST_SKELETON
from ..paths import default_cache_dir, default_data_dir
from . import dataset


def catalog_takes(data_dir: Path, cache_dir: Path):
    """(takes, partners, skipped) from the catalog of the data folder (tarballs and plain folders)."""
    from . import catalog

    if not data_dir.is_dir():
        raise SystemExit(f"data folder {data_dir} does not exist")
    skipped: list = []
    takes = catalog.find_takes(data_dir, cache_dir, skipped)
    partners = {}
    for pair in catalog.pairs(takes):
        partners[pair.a.key], partners[pair.b.key] = pair.b.key, pair.a.key
    return takes, partners, skipped


def cmd_build(args) -> int:
    data_dir, cache = Path(args.data), Path(args.cache)
    start = time.time()
    takes, partners, left_out = catalog_takes(data_dir, cache)
    print(f"{len(takes)} takes in {data_dir} ({len(left_out)} files left out by the catalog); "
          f"cache {cache}", flush=True)
    for path, reason in left_out:
        print(f"warning: skipped {path}: {reason}")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.formatwarning = lambda msg, *a, **k: f"warning: skipped {msg}\n"
        report = dataset.build(takes, cache, rest_path=None if args.no_rest else args.rest,
                               partners=partners, progress=not args.quiet)
    print(report.summary())
    print(f"done in {time.time() - start:.1f} s")
    return 0 if report.takes else 1


def _find(cache: Path, take: str) -> tuple[str, dict]:
    index = dataset.read_index(cache)
    if take in index:
        return take, index
    hits = [k for k, e in index.items() if e["take_id"] == take or k.endswith(take)]
    if not hits:
        raise SystemExit(f"take {take!r} is not in the cache {cache} (run `build` first)")
    return sorted(hits)[0], index


def cmd_show(args) -> int:
    from .show import contact_sheet, video

    cache = Path(args.cache)
    key, index = _find(cache, args.take)
    keys = [key] + ([index[key]["partner"]] if index[key].get("partner") else [])
    motions = [dataset.load_motion(cache / index[k]["file"]) for k in keys]
    takes, _, _ = catalog_takes(Path(args.data), cache)
    by_key = {t.key: t for t in takes}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise SystemExit(f"source take(s) {', '.join(missing)} not found in {args.data}")
    sources = [by_key[k].load() for k in keys]
    out = Path(args.out or f"{key}.png")
    rest = canonical_rest()
    if out.suffix == ".mp4":
        video(motions, sources, rest, out, seconds=args.seconds)
    else:
        contact_sheet(motions, sources, rest, out, title=" + ".join(
            f"{m.take_id}: {m.text}" if m.text else m.take_id for m in motions))
    print(out)
    return 0


def cmd_check(args) -> int:
    from tqdm import tqdm

    from .bonemaps import BoneMapError
    from .quality import HOW_TO_READ, MAX_CONTACT_M, MAX_DEG, MAX_MEAN_DEG, measure, table
    from .source import MotionFileError

    takes, _, left_out = catalog_takes(Path(args.data), Path(args.cache))
    rest, rows, failed = canonical_rest(), [], []
    for take in tqdm(sorted(takes, key=lambda t: t.key), desc="check", unit="take", disable=args.quiet):
        try:
            row = measure(take.key, take.load(), rest)
        except (MotionFileError, BoneMapError) as exc:
            failed.append(f"{take.key}: {exc}")
            continue
        rows.append(row)
        failed += [f"{row.key}: {p}" for p in row.problems()]
    if not rows:
        raise SystemExit(f"no take of {args.data} could be retargeted")
    report = "\n".join([
        f"Every take of the data folder ({len(rows)} takes; `python -m inference_backend.data check`): the angle between each of the 21 canonical bones and "
        f"the source direction it follows, over every frame; foot height at detected foot contacts. "
        f"Limits: mean <= {MAX_MEAN_DEG} deg, max <= {MAX_DEG} deg, feet <= {100 * MAX_CONTACT_M:.0f} cm.", "",
        table(rows), ""] + ([f"- {f}" for f in failed] or ["Every take is within the limits."]))
    print(report)
    if args.out:
        Path(args.out).write_text(f"# Retargeting quality\n\n{report}\n\n{HOW_TO_READ}\n")
        print(f"wrote {args.out}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference_backend.data",
                                     description="Build the retargeted motion cache; look at a take; check the retarget.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="retarget every take of the data folder into the cache")
    b.add_argument("--data", default=str(default_data_dir()), help="data folder (default: %(default)s)")
    b.add_argument("--cache", default=str(default_cache_dir()), help="cache folder (default: %(default)s)")
    b.add_argument("--rest", default=str(SHIPPED_REST_SKELETON),
                   help="where to write the measured rest skeleton (default: %(default)s)")
    b.add_argument("--no-rest", action="store_true", help="do not write the rest skeleton file")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=cmd_build)
    s = sub.add_parser("show", help="render a retargeted take (and its partner) beside its source")
    s.add_argument("take", help="take key or id, e.g. 18_01")
    s.add_argument("--out", help="output .png (contact sheet) or .mp4 (video, needs ffmpeg)")
    s.add_argument("--seconds", type=float, default=None, help="video length limit")
    s.add_argument("--data", default=str(default_data_dir()))
    s.add_argument("--cache", default=str(default_cache_dir()))
    s.set_defaults(func=cmd_show)
    c = sub.add_parser("check", help="retarget every take and report bone-direction and foot-contact errors")
    c.add_argument("--data", default=str(default_data_dir()))
    c.add_argument("--cache", default=str(default_cache_dir()))
    c.add_argument("--out", help="also write the report to this markdown file (e.g. docs/retarget.md)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=cmd_check)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
