"""``python bench/scan_corpus [--rebuild] [--big]``: build the corpus and list it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scan_corpus import DEFAULT_ROOT, big_checkpoint, build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--big", action="store_true", help="also write the 1 GiB checkpoint")
    args = parser.parse_args()
    samples, skipped = build(args.root, rebuild=args.rebuild)
    for s in samples:
        print(f"{s.kind:6} {s.cls:12} {s.id:34} {s.size:>12,}  {s.path}")
    print(
        f"{sum(s.kind == 'attack' for s in samples)} attacks, "
        f"{sum(s.kind == 'clean' for s in samples)} clean; skipped: {skipped or 'none'}"
    )
    if args.big:
        for legacy in (False, True):
            made = big_checkpoint(args.root, legacy=legacy)
            if made:
                print(f"big: {made[0]} ({made[0].stat().st_size:,} bytes, {made[1]})")


if __name__ == "__main__":
    main()
