"""Benchmark: artifact digest throughput and memory, signoff vs model_signing vs raw hashlib.

Usage::

    .venv/bin/python bench/digest.py [--size-gib 1.0] [--dir bench/.data/model] [--json]
    .venv/bin/python bench/digest.py --small-files 10000   # per-file overhead instead
    .venv/bin/python bench/digest.py --cold                # evict the page cache before runs

Builds (once; cached under bench/.data/, which git ignores) a synthetic model of six shards of
random bytes, of different sizes, plus small JSON files; reads it once so it is page-cached;
then times each contender in its own fresh subprocess, so that every peak RSS (VmHWM, read by
the child itself) belongs to one tool only. Rounds are interleaved (signoff, model_signing,
ceilings, then again) so that noise on a shared machine hits every contender alike; the best
of ``--repeats`` rounds is reported. It asserts nothing: it prints.

Contenders:

* ``signoff``: ``signoff.artifacts.digest_path`` with its defaults.
* ``model_signing``: ``model_signing.hashing.Config().use_file_serialization().hash(dir)``,
  the "files" serialization whose subject digest signoff reproduces (checked: ``agree``).
* ``hashlib read 1M`` / ``read 8M``: the plain ceiling. A ThreadPool of ``os.cpu_count()``
  threads, largest file first, each thread hashing whole files with ``f.read(N)``. The ratio
  ``signoff / ceiling`` uses the better of the two.
* ``hashlib mmap``: the same but hashing a memory map of each file, which saves the copy from
  the page cache (informational: signoff does not use mmap, see signoff/artifacts/hashing.py).
* ``hashlib in-memory``: SHA-256 of as many bytes, already in memory, on all cores: what the
  CPU can hash at all, with no I/O.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import mmap
import os
import platform
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / "bench" / ".data" / "model"  # --small-files N: bench/.data/small-N
SHARD_WEIGHTS = (0.22, 0.19, 0.17, 0.16, 0.14, 0.12)
SMALL_FILES = {
    "config.json": {"architectures": ["SyntheticForCausalLM"], "hidden_size": 4096},
    "generation_config.json": {"do_sample": True, "temperature": 0.7},
    "tokenizer/tokenizer_config.json": {"model_max_length": 4096, "padding_side": "left"},
}
TOOLS = (
    "signoff",
    "model_signing",
    "hashlib read 1M",
    "hashlib read 8M",
    "hashlib mmap",
    "hashlib in-memory",
)
CEILING_TOOLS = ("hashlib read 1M", "hashlib read 8M")
MiB = 1 << 20
GiB = 1 << 30


# --- the synthetic model ---------------------------------------------------------------------


def layout(size: int) -> dict[str, int]:
    """File name -> size; the shards add up to exactly ``size`` bytes."""
    sizes = [int(size * w) for w in SHARD_WEIGHTS]
    sizes[-1] += size - sum(sizes)
    n = len(sizes)
    return {f"model-{i + 1:05d}-of-{n:05d}.safetensors": s for i, s in enumerate(sizes)}


def small_files_layout(count: int) -> dict[str, int]:
    """``count`` files of 8 KiB, 100 per directory: the per-file overhead case."""
    return {f"part-{i // 100:04d}/file-{i % 100:02d}.bin": 8192 for i in range(count)}


def build_model(directory: Path, shards: dict[str, int]) -> None:
    """Create the model unless a complete one of the same layout is already there."""
    size = sum(shards.values())
    stamp = directory.parent / f"{directory.name}.layout.json"
    wanted = {"shards": shards, "small": SMALL_FILES}
    complete = stamp.exists() and json.loads(stamp.read_text()) == wanted
    if complete and all(
        (directory / n).is_file() and (directory / n).stat().st_size == s for n, s in shards.items()
    ):
        return
    print(f"building a {size / GiB:.2f} GiB synthetic model in {directory} ...", file=sys.stderr)
    stamp.unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in SMALL_FILES.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(json.dumps(content, indent=2) + "\n")
    for name, shard_size in shards.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        with open(directory / name, "wb") as f:
            left = shard_size
            while left:
                chunk = os.urandom(min(left, 16 * MiB))
                f.write(chunk)
                left -= len(chunk)
    stamp.write_text(json.dumps(wanted))


def model_files(directory: Path) -> list[Path]:
    """All files of the model, largest first."""
    files = [p for p in directory.rglob("*") if p.is_file()]
    return sorted(files, key=lambda p: p.stat().st_size, reverse=True)


def evict_page_cache(directory: Path) -> None:
    """Drop the model's pages from the page cache (``--cold``), no root needed."""
    for path in model_files(directory):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages cannot be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def warm_page_cache(directory: Path) -> None:
    buffer = bytearray(8 * MiB)
    for path in model_files(directory):
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buffer):
                pass


# --- contenders (run inside the child process) -----------------------------------------------


def run_signoff(directory: Path, workers: int) -> str:
    from signoff.artifacts import digest_path

    return digest_path(directory, workers=workers).root_digest


def run_model_signing(directory: Path, workers: int) -> str:
    import model_signing

    manifest = model_signing.hashing.Config().use_file_serialization().hash(directory)
    root = hashlib.sha256()  # the in-toto subject digest, as model_signing's Payload computes it
    for descriptor in manifest.resource_descriptors():
        root.update(descriptor.digest.digest_value)
    return root.hexdigest()


def _threads(directory: Path, workers: int, hash_one: Callable[[Path], bytes]) -> str:
    with ThreadPoolExecutor(workers) as pool:
        digests = list(pool.map(hash_one, model_files(directory)))
    return hashlib.sha256(b"".join(digests)).hexdigest()  # not a comparable root: other order


def _read(chunk: int) -> Callable[[Path, int], str]:
    def run(directory: Path, workers: int) -> str:
        def hash_one(path: Path) -> bytes:
            h = hashlib.sha256()
            with open(path, "rb", buffering=0) as f:
                while data := f.read(chunk):
                    h.update(data)
            return h.digest()

        return _threads(directory, workers, hash_one)

    return run


def run_mmap(directory: Path, workers: int) -> str:
    def hash_one(path: Path) -> bytes:
        h = hashlib.sha256()
        if path.stat().st_size == 0:
            return h.digest()
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            view = memoryview(m)
            for start in range(0, len(m), 4 * MiB):  # slices: hashlib drops the GIL for each
                h.update(view[start : start + 4 * MiB])
            view.release()
        return h.digest()

    return _threads(directory, workers, hash_one)


def run_in_memory(directory: Path, workers: int) -> str:
    total = sum(p.stat().st_size for p in model_files(directory))
    block = os.urandom(MiB)
    blocks_per_worker = total // MiB // workers

    def hash_blocks(_: int) -> bytes:
        h = hashlib.sha256()
        for _ in range(blocks_per_worker):
            h.update(block)
        return h.digest()

    with ThreadPoolExecutor(workers) as pool:
        return hashlib.sha256(b"".join(pool.map(hash_blocks, range(workers)))).hexdigest()


RUNNERS: dict[str, Callable[[Path, int], str]] = {
    "signoff": run_signoff,
    "model_signing": run_model_signing,
    "hashlib read 1M": _read(MiB),
    "hashlib read 8M": _read(8 * MiB),
    "hashlib mmap": run_mmap,
    "hashlib in-memory": run_in_memory,
}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def child(tool: str, directory: Path, workers: int) -> None:
    """Time one run of ``tool`` and print JSON: seconds, root, RSS before and at peak."""
    # Import what the contender needs before measuring, and nothing else, so that its peak
    # RSS is its own: the hashlib contenders need no import at all.
    if tool == "signoff":
        import signoff.artifacts  # noqa: F401
    elif tool == "model_signing":
        import model_signing  # noqa: F401
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    root = RUNNERS[tool](directory, workers)
    seconds = time.perf_counter() - start
    result = {
        "seconds": seconds,
        "root": root,
        "rss_before_kib": before,
        "peak_rss_kib": _status_kib("VmHWM"),
    }
    print(json.dumps(result))


# --- the parent: rounds, table ---------------------------------------------------------------


def measure(tool: str, directory: Path, workers: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            tool,
            "--dir",
            str(directory),
            "--workers",
            str(workers),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    from importlib.metadata import version

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / (1 << 20), 1),
        "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION,
        "model_signing": version("model-signing"),
        "date": datetime.date.today().isoformat(),
        # Anything else running on the machine skews the numbers: record the load average
        # (1, 5, 15 min) and the CPU pressure (share of time something waited for a CPU).
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "cpu_pressure": _cpu_pressure(),
    }


def _cpu_pressure() -> str:
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gib", type=float, default=1.0, help="model size (default 1.0)")
    parser.add_argument(
        "--small-files",
        type=int,
        default=0,
        metavar="N",
        help="instead of the sharded model, N files of 8 KiB (default dir bench/.data/small-N)",
    )
    parser.add_argument("--dir", type=Path, help="where the model lives (bench/.data/model)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; best is kept (3)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="threads (os.cpu_count())"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="evict the model from the page cache before every run (reads hit the disk, or "
        "at least the hypervisor's cache)",
    )
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dir is None:
        name = f"small-{args.small_files}" if args.small_files else "model"
        args.dir = DEFAULT_DIR.parent / name
    directory: Path = args.dir.resolve()
    if args.child:
        child(args.child, directory, args.workers)
        return

    if args.small_files:
        build_model(directory, small_files_layout(args.small_files))
    else:
        build_model(directory, layout(int(args.size_gib * GiB)))
    if not args.cold:
        warm_page_cache(directory)
    total = sum(p.stat().st_size for p in model_files(directory))
    runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in TOOLS}
    for _ in range(args.repeats):
        for tool in TOOLS:
            if args.cold:
                evict_page_cache(directory)
            runs[tool].append(measure(tool, directory, args.workers))

    rows: dict[str, dict[str, Any]] = {}
    for tool, results in runs.items():
        best = min(r["seconds"] for r in results)
        rows[tool] = {
            "gb_per_s": total / best / 1e9,
            "best_seconds": best,
            "all_seconds": [round(r["seconds"], 4) for r in results],
            "peak_rss_mib": max(r["peak_rss_kib"] for r in results) / 1024,
            "rss_before_mib": max(r["rss_before_kib"] for r in results) / 1024,
        }
    ceiling = max(rows[t]["gb_per_s"] for t in CEILING_TOOLS)
    signoff_rate = rows["signoff"]["gb_per_s"]
    for row in rows.values():
        row["signoff_ratio"] = signoff_rate / row["gb_per_s"]
    report = {
        "machine": machine(),
        "command": "python bench/digest.py " + " ".join(sys.argv[1:]),
        "model": {"dir": str(directory), "files": len(model_files(directory)), "bytes": total},
        "workers": args.workers,
        "page_cache": "cold" if args.cold else "warm",
        "repeats": args.repeats,
        "results": rows,
        "signoff_vs_ceiling": signoff_rate / ceiling,
        "signoff_vs_model_signing": signoff_rate / rows["model_signing"]["gb_per_s"],
        "signoff_vs_in_memory": signoff_rate / rows["hashlib in-memory"]["gb_per_s"],
        "root_digests_agree": runs["signoff"][0]["root"] == runs["model_signing"][0]["root"],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


def print_table(report: dict[str, Any]) -> None:
    m = report["machine"]
    model = report["model"]
    print(
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
        f"{m['openssl']}, model_signing {m['model_signing']}, {m['date']}"
    )
    print(
        f"model: {model['files']} files, {model['bytes'] / GiB:.2f} GiB, "
        f"page cache {report['page_cache']}; "
        f"{report['workers']} workers; best of {report['repeats']} interleaved rounds"
    )
    print(f"load average before: {' '.join(m['loadavg'])}; cpu pressure: {m['cpu_pressure']}")
    print()
    header = (
        f"{'contender':<18} {'GB/s':>5} {'best s':>7} {'signoff/x':>9} "
        f"{'peak RSS MiB':>12} {'before':>7} {'all rounds, s':>22}"
    )
    print(header)
    print("-" * len(header))
    for tool, row in report["results"].items():
        rounds = " ".join(f"{t:.3f}" for t in row["all_seconds"])
        print(
            f"{tool:<18} {row['gb_per_s']:>5.2f} {row['best_seconds']:>7.3f} "
            f"{row['signoff_ratio']:>9.2f} {row['peak_rss_mib']:>12.1f} "
            f"{row['rss_before_mib']:>7.1f} {rounds:>22}"
        )
    print()
    print(f"signoff / ceiling (best plain hashlib read): {report['signoff_vs_ceiling']:.1%}")
    print(f"signoff / model_signing: {report['signoff_vs_model_signing']:.2f}x")
    print(f"signoff / in-memory SHA-256 on all cores: {report['signoff_vs_in_memory']:.1%}")
    print(f"root digests agree with model_signing: {report['root_digests_agree']}")


if __name__ == "__main__":
    main()
