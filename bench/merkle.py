"""Benchmark: the cost of verifying an audit log of a million events, part by part.

Usage::

    .venv/bin/python bench/merkle.py [--count 1000000] [--repeats 3] [--json]

It times, best of ``--repeats``, in this process:

* ``root``: ``root_from_leaf_hashes`` over ``count`` random 32-byte leaf hashes;
* ``canonical leaves``: ``leaf_hash(event_leaf(event))`` for ``count`` event dicts of about
  200 bytes of canonical JSON each (rfc8785, pure Python);
* ``total``: the two together, what ``audit verify`` pays if it re-canonicalises every event;
* ``stored leaves``: ``hash_leaves`` over the same events' canonical bytes, already stored, and
  ``total (stored)``: what ``audit verify`` pays if it only re-hashes stored leaf bytes;
* ``tree``: ``MerkleTree(leaf hashes)`` (all perfect subtrees kept, for proofs), informational.

The goal it feeds: verifying 1M events in under 5 s. It asserts nothing: it prints, and says
whether canonicalisation alone exceeds its 2 s share of that budget.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

from signoff.audit import MerkleTree, event_leaf, hash_leaves, leaf_hash, root_from_leaf_hashes

CANONICAL_BUDGET = 2.0  # seconds of the 5 s goal that re-canonicalising may take
ACTIONS = ("model.create", "version.register", "alias.set", "check.run")


def make_events(count: int) -> list[dict[str, Any]]:
    """Deterministic, realistic events of about 200 bytes of canonical JSON each."""
    return [
        {
            "seq": i,
            "ts": f"2025-06-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}Z",
            "actor": f"u{i % 997:03d}@example.com",
            "action": ACTIONS[i % len(ACTIONS)],
            "model": f"model-{i % 1009:04d}",
            "version": i % 50 + 1,
            "digest": f"sha256:{i:064x}",
        }
        for i in range(count)
    ]


def best_of(repeats: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    count, repeats = args.count, args.repeats

    leaf_hashes = [os.urandom(32) for _ in range(count)]
    events = make_events(count)
    stored = [event_leaf(event) for event in events]

    results = {
        "root": best_of(repeats, lambda: root_from_leaf_hashes(leaf_hashes)),
        "canonical leaves": best_of(
            repeats, lambda: [leaf_hash(event_leaf(event)) for event in events]
        ),
        "stored leaves": best_of(repeats, lambda: hash_leaves(stored)),
        "tree": best_of(repeats, lambda: MerkleTree(leaf_hashes).root()),
    }
    results["total"] = results["root"] + results["canonical leaves"]
    results["total (stored)"] = results["root"] + results["stored leaves"]
    too_slow = results["canonical leaves"] > CANONICAL_BUDGET

    if args.json:
        report = {
            "count": count,
            "repeats": repeats,
            "mean_event_bytes": sum(map(len, stored)) / count,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "seconds": results,
            "canonicalisation_over_budget": too_slow,
        }
        print(json.dumps(report, indent=2))
        return
    print(
        f"{count:,} events of {sum(map(len, stored)) / count:.0f} canonical bytes on average; "
        f"best of {repeats}; Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    for name in ("root", "canonical leaves", "total", "stored leaves", "total (stored)", "tree"):
        print(f"  {name:<18} {results[name]:7.3f} s")
    if too_slow:
        print(
            f"rfc8785 canonicalisation takes {results['canonical leaves']:.1f} s, over its "
            f"{CANONICAL_BUDGET:.0f} s budget: verify by re-hashing stored leaf bytes "
            f"({results['total (stored)']:.2f} s in all) and canonicalise only new events."
        )


if __name__ == "__main__":
    main()
