"""Benchmark: the artifact scanner against modelscan and picklescan, on attacks and clean models.

Usage::

    .venv/bin/python bench/scan.py [--repeats 3] [--json] [--rebuild] [--no-big]
    .venv/bin/python bench/scan.py --big-only --big-repeats 3    # only the 1 GiB throughput run

Goal (the issue's words): every attack sample caught, zero false alarms on the clean artifacts,
and faster than both modelscan and picklescan.

The corpus (``bench/scan_corpus/``, cached under ``bench/.data/scan-corpus/``) holds attack samples
built by hand from public bypass reports, and clean artifacts written by scikit-learn/joblib,
numpy, PyTorch, safetensors, onnx, gguf, h5py and Keras. No sample is ever loaded, unpickled or
run: every tool here is a static scanner, and the benchmark only hands it a path.

All three tools run in this one process, through their Python APIs, over every sample:

* ``signoff``: ``signoff.scanner.scan.scan_path(path)``.
* ``modelscan``: ``modelscan.modelscan.ModelScan().scan(path)`` (its CLI's code path); the
  report's ``issues``, ``errors`` and ``skipped`` lists are read.
* ``picklescan``: ``picklescan.scanner.scan_file_path(path)`` (``scan_directory_path`` for a
  directory sample); ``issues_count`` / ``infected_files`` (dangerous globals), ``scan_err`` and
  ``suspicious_count`` are read.

Verdict per tool and sample, and the counting rule:

* ``flagged``: the tool reports a finding that fails the artifact: signoff's ``result == "fail"``
  (a critical/high/medium finding), a modelscan issue of any severity, a picklescan dangerous
  global (what makes its CLI exit 1). **An attack is caught only when flagged; a clean sample
  that is flagged is a false alarm.**
* ``error``: no finding, but the tool's report carries an error for the file (modelscan's
  ``errors`` list, picklescan's ``scan_err``). Not caught: the public bypass reports against
  both tools (e.g. modelscan issue #338, picklescan PR #52) count exactly this as a miss,
  since a pipeline reading findings sees none. The ``+err`` columns count it as caught (and, on
  clean samples, as a false alarm) for readers who would gate on it.
* ``warn``: only low-severity output (signoff ``warn``; picklescan "suspicious" globals, which
  its CLI does not fail on). Not caught, not a false alarm.
* ``skipped`` / ``clean``: nothing reported (modelscan skips files by extension).
* ``crashed``: the API call raised. Not caught, not a false alarm (listed).

signoff runs its mypyc-compiled build when ``make compile`` has made one (``make bench`` does),
else its pure-Python modules; ``SIGNOFF_PURE_PYTHON=1`` measures the pure build even so. The
environment line says which ran.

Time: each tool is warmed once (imports and first call outside the clock), then the whole corpus
is scanned ``--repeats`` times, tools interleaved; the best total is reported. Throughput: each
tool scans a >= 1 GiB PyTorch checkpoint in a fresh subprocess (page-cached), which reports its
scan seconds and its peak RSS (``VmHWM``).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_corpus import DEFAULT_ROOT, Sample, big_checkpoint, build

REPO = Path(__file__).resolve().parent.parent
TOOLS = ("signoff", "modelscan", "picklescan")
FLAGGED, ERROR, WARN, SKIPPED, CLEAN, CRASHED = (
    "flagged",
    "error",
    "warn",
    "skipped",
    "clean",
    "crashed",
)


@dataclass
class Verdict:
    status: str
    detail: str
    seconds: float = 0.0


# --- the three tools --------------------------------------------------------------------------


def _quiet_logs() -> None:
    for name in ("modelscan", "picklescan", "picklescan.scanner"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL + 1)
        logger.propagate = False


def signoff_tool() -> Callable[[Path], Verdict]:
    from signoff.scanner.findings import BLOCKING
    from signoff.scanner.scan import scan_path

    order = ["critical", "high", "medium", "low", "info"]

    def run(path: Path) -> Verdict:
        report = scan_path(path)
        findings = sorted(report.findings, key=lambda f: order.index(f.severity.value))
        rules = []
        for f in findings:
            tag = f"{f.rule_id}[{f.severity.value}]"
            if f.construct:
                tag += f" {f.construct}"
            if tag not in rules:
                rules.append(tag)
        detail = "; ".join(rules[:4])
        if report.result == "fail":
            assert any(f.severity in BLOCKING for f in findings)
            return Verdict(FLAGGED, detail)
        if report.result == "warn":
            return Verdict(WARN, detail)
        return Verdict(CLEAN, detail)

    return run


def modelscan_tool() -> Callable[[Path], Verdict]:
    from modelscan.modelscan import ModelScan

    scanner = ModelScan()

    def run(path: Path) -> Verdict:
        report = scanner.scan(str(path))
        issues = report.get("issues", [])
        errors = report.get("errors", [])
        summary = report["summary"]
        if issues:
            ops = sorted({f"{i.get('operator')}[{i.get('severity')}]" for i in issues})
            return Verdict(FLAGGED, ", ".join(ops[:4]))
        if errors:
            kinds = sorted(
                {f"{e.get('category')}: {str(e.get('description'))[:60]}" for e in errors}
            )
            return Verdict(ERROR, "; ".join(kinds[:2]))
        if summary["scanned"]["total_scanned"] == 0:
            skipped = summary["skipped"].get("skipped_files", [])
            why = sorted({s["category"] for s in skipped})
            return Verdict(SKIPPED, ", ".join(why))
        return Verdict(CLEAN, "")

    return run


def picklescan_tool() -> Callable[[Path], Verdict]:
    from picklescan.scanner import SafetyLevel, scan_directory_path, scan_file_path

    def run(path: Path) -> Verdict:
        result = scan_directory_path(str(path)) if path.is_dir() else scan_file_path(str(path))
        dangerous = sorted(
            {f"{g.module}.{g.name}" for g in result.globals if g.safety == SafetyLevel.Dangerous}
        )
        suspicious = sorted(
            {f"{g.module}.{g.name}" for g in result.globals if g.safety == SafetyLevel.Suspicious}
        )
        if result.issues_count > 0 or result.infected_files > 0:
            return Verdict(FLAGGED, ", ".join(dangerous[:4]))
        if result.scan_err:
            return Verdict(ERROR, "scan_err")
        if result.suspicious_count:
            return Verdict(WARN, "suspicious: " + ", ".join(suspicious[:4]))
        if result.scanned_files == 0:
            return Verdict(SKIPPED, "")
        return Verdict(CLEAN, "")

    return run


FACTORIES: dict[str, Callable[[], Callable[[Path], Verdict]]] = {
    "signoff": signoff_tool,
    "modelscan": modelscan_tool,
    "picklescan": picklescan_tool,
}


def timed(run: Callable[[Path], Verdict], path: Path) -> Verdict:
    start = time.perf_counter()
    try:
        verdict = run(path)
    except Exception as exc:  # a crash is a result, not a benchmark failure
        verdict = Verdict(CRASHED, f"{type(exc).__name__}: {str(exc)[:100]}")
    verdict.seconds = time.perf_counter() - start
    return verdict


# --- corpus run -------------------------------------------------------------------------------


def run_corpus(
    samples: list[Sample], root: Path, repeats: int
) -> tuple[dict[str, list[Verdict]], dict[str, list[float]]]:
    _quiet_logs()
    runners = {name: FACTORIES[name]() for name in TOOLS}
    warm = root / next(s.path for s in samples if s.kind == "clean")
    for run in runners.values():
        timed(run, warm)
    verdicts: dict[str, list[Verdict]] = {}
    totals: dict[str, list[float]] = {name: [] for name in TOOLS}
    for _ in range(repeats):
        for name, run in runners.items():
            results = [timed(run, root / s.path) for s in samples]
            totals[name].append(sum(v.seconds for v in results))
            if name not in verdicts:
                verdicts[name] = results
            else:  # keep the first round's verdicts, each sample's fastest time
                for first, again in zip(verdicts[name], results, strict=True):
                    first.seconds = min(first.seconds, again.seconds)
    return verdicts, totals


def summarise(
    samples: list[Sample], verdicts: dict[str, list[Verdict]], totals: dict[str, list[float]]
) -> dict[str, Any]:
    classes = list(dict.fromkeys(s.cls for s in samples))
    per_class: dict[str, dict[str, Any]] = {}
    for cls in classes:
        idx = [i for i, s in enumerate(samples) if s.cls == cls]
        row: dict[str, Any] = {
            "attacks": sum(samples[i].kind == "attack" for i in idx),
            "clean": sum(samples[i].kind == "clean" for i in idx),
        }
        for tool in TOOLS:
            row[tool] = _counts([samples[i] for i in idx], [verdicts[tool][i] for i in idx])
        per_class[cls] = row
    total: dict[str, Any] = {
        "attacks": sum(s.kind == "attack" for s in samples),
        "clean": sum(s.kind == "clean" for s in samples),
    }
    for tool in TOOLS:
        total[tool] = _counts(samples, verdicts[tool])
        total[tool]["best_seconds"] = min(totals[tool])
        total[tool]["median_seconds"] = statistics.median(totals[tool])
        total[tool]["all_seconds"] = totals[tool]
    return {"per_class": per_class, "total": total}


def _counts(samples: list[Sample], verdicts: list[Verdict]) -> dict[str, Any]:
    attacks = [v for s, v in zip(samples, verdicts, strict=True) if s.kind == "attack"]
    clean = [v for s, v in zip(samples, verdicts, strict=True) if s.kind == "clean"]
    return {
        "caught": sum(v.status == FLAGGED for v in attacks),
        "caught_incl_errors": sum(v.status in (FLAGGED, ERROR) for v in attacks),
        "false_alarms": sum(v.status == FLAGGED for v in clean),
        "false_alarms_incl_errors": sum(v.status in (FLAGGED, ERROR) for v in clean),
        "crashed": sum(v.status == CRASHED for v in attacks + clean),
        "statuses": {st: sum(v.status == st for v in attacks + clean) for st in _STATUSES},
    }


_STATUSES = (FLAGGED, ERROR, WARN, SKIPPED, CLEAN, CRASHED)


# --- 1 GiB throughput ---------------------------------------------------------------------------

CHILD = r"""
import json, logging, sys, time
from pathlib import Path
tool, path, warm = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
logging.disable(logging.CRITICAL)

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0

if tool == "signoff":
    from signoff.scanner.scan import scan_path
    def run(p):
        r = scan_path(p)
        return {"result": r.result, "findings": [f.rule_id for f in r.findings][:5]}
elif tool == "modelscan":
    from modelscan.modelscan import ModelScan
    ms = ModelScan()
    def run(p):
        r = ms.scan(str(p))
        return {"issues": len(r["issues"]), "errors": len(r["errors"]),
                "scanned": r["summary"]["scanned"]["total_scanned"]}
else:
    from picklescan.scanner import scan_file_path
    def run(p):
        r = scan_file_path(str(p))
        return {"issues": r.issues_count, "scan_err": r.scan_err, "globals": len(r.globals)}
run(warm)
rss_before = status("VmRSS")
start = time.perf_counter()
out = run(path)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_rss_mib": status("VmHWM"),
                  "rss_before_mib": rss_before, "out": out}))
"""


def run_big(path: Path, warm: Path, repeats: int) -> dict[str, Any]:
    with path.open("rb") as f:  # page-cache it, as in bench/digest.py
        while f.read(8 << 20):
            pass
    rounds: dict[str, list[dict[str, Any]]] = {tool: [] for tool in TOOLS}
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    for _ in range(repeats):
        for tool in TOOLS:
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, tool, str(path), str(warm)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
            try:
                rounds[tool].append(json.loads(line))
            except json.JSONDecodeError:
                rounds[tool].append({"error": (proc.stderr or proc.stdout)[-300:]})
    size = path.stat().st_size
    out: dict[str, Any] = {"bytes": size}
    for tool, results in rounds.items():
        ok = [r for r in results if "seconds" in r]
        if not ok:
            out[tool] = {"error": results[-1].get("error")}
            continue
        best = min(ok, key=lambda r: r["seconds"])
        out[tool] = {
            "best_seconds": best["seconds"],
            "all_seconds": [r["seconds"] for r in ok],
            "gb_per_s": size / best["seconds"] / 1e9,
            "peak_rss_mib": max(r["peak_rss_mib"] for r in ok),
            "rss_before_mib": best["rss_before_mib"],
            "result": best["out"],
        }
    return out


# --- output ------------------------------------------------------------------------------------


def _signoff_compiled() -> bool:
    import signoff.scanner

    return signoff.scanner.COMPILED


def environment() -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "cpu": model,
        "cores": os.cpu_count(),
        "signoff": version("signoff"),
        "signoff_build": "mypyc-compiled" if _signoff_compiled() else "pure Python",
        "modelscan": version("modelscan"),
        "picklescan": version("picklescan"),
        "libraries": {n: version(n) for n in ("torch", "keras", "onnx", "gguf", "safetensors")},
    }


def print_tables(summary: dict[str, Any], samples: list[Sample], verdicts: dict[str, Any]) -> None:
    total = summary["total"]
    print("\n### Totals\n")
    print(
        "| tool | attacks caught | caught +err | false alarms | false alarms +err | crashed "
        "| best s | median s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for tool in TOOLS:
        t = total[tool]
        print(
            f"| {tool} | {t['caught']}/{total['attacks']} | {t['caught_incl_errors']}"
            f"/{total['attacks']} | {t['false_alarms']}/{total['clean']} | "
            f"{t['false_alarms_incl_errors']}/{total['clean']} | {t['crashed']} | "
            f"{t['best_seconds']:.3f} | {t['median_seconds']:.3f} |"
        )
    print("\n### Per class (attacks caught / false alarms)\n")
    head = " | ".join(f"{t} caught | {t} FA" for t in TOOLS)
    print(f"| class | attacks | clean | {head} |")
    print("| --- | ---: | ---: |" + " ---: | ---: |" * len(TOOLS))
    for cls, row in summary["per_class"].items():
        cells = []
        for tool in TOOLS:
            c = row[tool]
            cells.append(f"{c['caught']}/{row['attacks']}" if row["attacks"] else "-")
            cells.append(f"{c['false_alarms']}/{row['clean']}" if row["clean"] else "-")
        print(f"| {cls} | {row['attacks']} | {row['clean']} | " + " | ".join(cells) + " |")
    print("\n### Time per class (ms: each sample's fastest round, summed)\n")
    print("| class | samples | " + " | ".join(TOOLS) + " |")
    print("| --- | ---: |" + " ---: |" * len(TOOLS))
    for cls in summary["per_class"]:
        idx = [i for i, s in enumerate(samples) if s.cls == cls]
        cells = [f"{sum(verdicts[t][i].seconds for i in idx) * 1000:.2f}" for t in TOOLS]
        print(f"| {cls} | {len(idx)} | " + " | ".join(cells) + " |")
    cells = [f"{sum(v.seconds for v in verdicts[t]) * 1000:.2f}" for t in TOOLS]
    print(f"| all | {len(samples)} | " + " | ".join(cells) + " |")
    print("\n### Per sample (attacks)\n")
    print("| id | class | " + " | ".join(TOOLS) + " |")
    print("| --- | --- |" + " --- |" * len(TOOLS))
    for i, s in enumerate(samples):
        if s.kind == "attack":
            cells = [_cell(verdicts[t][i]) for t in TOOLS]
            print(f"| {s.id} | {s.cls} | " + " | ".join(cells) + " |")
    print("\n### Clean samples not reported clean by some tool\n")
    print("| id | class | " + " | ".join(TOOLS) + " |")
    print("| --- | --- |" + " --- |" * len(TOOLS))
    for i, s in enumerate(samples):
        if s.kind == "clean" and any(verdicts[t][i].status not in (CLEAN, SKIPPED) for t in TOOLS):
            cells = [_cell(verdicts[t][i]) for t in TOOLS]
            print(f"| {s.id} | {s.cls} | " + " | ".join(cells) + " |")
    print("\n### signoff details: misses, false alarms, warnings\n")
    for i, s in enumerate(samples):
        v = verdicts["signoff"][i]
        bad = (s.kind == "attack" and v.status != FLAGGED) or (
            s.kind == "clean" and v.status != CLEAN
        )
        if bad:
            print(f"- {s.kind} {s.id} ({s.path}): {v.status}: {v.detail or '(no findings)'}")


def _cell(v: Verdict) -> str:
    mark = {FLAGGED: "**caught**", ERROR: "error", WARN: "warn", SKIPPED: "skipped"}.get(
        v.status, v.status
    )
    return mark


def print_big(big: dict[str, Any], how: str) -> None:
    print(f"\n### Throughput: {big['bytes'] / 1e9:.2f} GB PyTorch checkpoint, {how}\n")
    print("| tool | best s | GB/s | all rounds, s | peak RSS MiB | RSS before MiB | result |")
    print("| --- | ---: | ---: | --- | ---: | ---: | --- |")
    for tool in TOOLS:
        r = big[tool]
        if "error" in r:
            print(f"| {tool} | error | | | | | {r['error']} |")
            continue
        rounds = " ".join(f"{s:.3f}" for s in r["all_seconds"])
        print(
            f"| {tool} | {r['best_seconds']:.3f} | {r['gb_per_s']:.2f} | {rounds} | "
            f"{r['peak_rss_mib']:.1f} | {r['rss_before_mib']:.1f} | {json.dumps(r['result'])} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--repeats", type=int, default=3, help="corpus rounds per tool")
    parser.add_argument("--big-repeats", type=int, default=3, help="1 GiB rounds per tool")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached corpus")
    parser.add_argument("--no-big", action="store_true", help="skip the 1 GiB throughput run")
    parser.add_argument("--big-only", action="store_true", help="only the 1 GiB throughput run")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = parser.parse_args()

    samples, skipped = build(args.root, rebuild=args.rebuild)
    env = environment()
    result: dict[str, Any] = {"environment": env, "skipped_samples": skipped}
    verdicts: dict[str, list[Verdict]] = {}
    if not args.big_only:
        verdicts, totals = run_corpus(samples, args.root, args.repeats)
        result["summary"] = summarise(samples, verdicts, totals)
        result["samples"] = [
            {**asdict(s), **{t: asdict(verdicts[t][i]) for t in TOOLS}}
            for i, s in enumerate(samples)
        ]
    bigs: list[tuple[str, dict[str, Any]]] = []
    if not args.no_big:
        warm = args.root / next(s.path for s in samples if s.id == "pt-zip-data-pkl")
        for legacy in (False, True):
            made = big_checkpoint(args.root, legacy=legacy)
            if made is None:
                continue
            path, how = made
            bigs.append((how, run_big(path, warm, args.big_repeats)))
        result["big"] = [{"how": how, **big} for how, big in bigs]
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"environment: {json.dumps(env)}")
    print(f"corpus: {args.root} ({len(samples)} samples; skipped: {skipped or 'none'})")
    if verdicts:
        print_tables(result["summary"], samples, verdicts)
    for how, big in bigs:
        print_big(big, how)


if __name__ == "__main__":
    main()
