"""``python -m dangan.samples --persons N --out DIR``: write a sample batch (the real CLI lives elsewhere)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dangan.samples import generate_samples


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, generate, print a one-line summary."""
    parser = argparse.ArgumentParser(prog="python -m dangan.samples", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--persons", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--site", default="330106", help="6-digit GB/T 2260 county code")
    parser.add_argument("--dpi", type=int, nargs="+", default=[200, 300])
    parser.add_argument("--clean", action="store_true", help="no scanner degradations")
    parser.add_argument("--no-bad-files", action="store_true", help="omit blank/empty/truncated/fake files")
    args = parser.parse_args(argv)
    batch = generate_samples(
        args.out, args.persons, seed=args.seed, site=args.site, degrade=not args.clean,
        bad_files=not args.no_bad_files, dpi=tuple(args.dpi),
    )  # fmt: skip
    print(f"wrote {len(batch.files)} files for {len(batch.persons)} persons; manifest: {batch.manifest_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
