"""The mypyc-compiled scanner and its pure-Python source report exactly the same findings.

``make test`` compiles the scanner, runs the whole suite on the compiled build and the scanner
tests once more on the pure-Python modules (``SIGNOFF_PURE_PYTHON=1``). This test adds a direct
comparison: one corpus (valid, attack and randomly broken files of every container kind) scanned
by both builds, each in its own process, must give byte-identical JSON reports. A compiled module
that met a value its annotations do not allow would raise there (a scanner internal error), and
the reports would differ.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from test_pickle_fuzz import SEEDS

import signoff.scanner
from signoff.scanner import PURE_ENV, compiled_modules

pytestmark = pytest.mark.skipif(
    not signoff.scanner.COMPILED, reason="no compiled scanner here (`make compile` builds it)"
)


def _mutations(seed: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            choice = rng.random()
            if choice < 0.4 and data:
                data[min(at, len(data) - 1)] = rng.randrange(256)
            elif choice < 0.7:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            else:
                del data[at : at + rng.randint(1, 8)]
        out.append(bytes(data))
    return out


def _corpus(root: Path) -> None:
    rng = random.Random(20261126)
    for i, seed in enumerate(SEEDS):
        (root / f"seed-{i}.pkl").write_bytes(seed)
        for j, mutant in enumerate(_mutations(seed, rng, 25)):
            (root / f"mutant-{i}-{j}.pkl").write_bytes(mutant)
    iris = load_iris()
    model = LogisticRegression(max_iter=300).fit(iris.data, iris.target)
    joblib.dump(model, root / "model.joblib")
    joblib.dump(model, root / "model-zlib.joblib", compress=3)
    joblib.dump({"model": model, "ids": np.arange(5, dtype=object)}, root / "objects.joblib")
    np.save(root / "weights.npy", np.arange(12, dtype=np.float32).reshape(3, 4))
    np.savez(root / "bundle.npz", a=np.arange(3), b=np.array([{"k": 1}], dtype=object))
    payload = pickle.dumps(os.getcwd, protocol=2)  # an unlisted import (never loaded)
    with zipfile.ZipFile(root / "checkpoint.pt", "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": [1.5, 2.5]}, protocol=2))
        archive.writestr("archive/extra.pkl", payload)
        archive.writestr("archive/version", "3\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("inner/model.pkl")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    (root / "bundle.tar.gz").write_bytes(buffer.getvalue())
    (root / "model.pkl.gz").write_bytes(gzip.compress(SEEDS[-1]))
    whole = (root / "model.joblib").read_bytes()
    for k, cut in enumerate(sorted(rng.sample(range(1, len(whole)), 6))):
        (root / f"model-cut-{k}.joblib").write_bytes(whole[:cut])


def _report(root: Path, *, pure: bool) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != PURE_ENV}
    if pure:
        env[PURE_ENV] = "1"
    script = (
        "import json, sys, signoff.scanner\n"
        "from pathlib import Path\n"
        "from signoff.scanner.scan import scan_path\n"
        "report = scan_path(Path(sys.argv[1]))\n"
        "print(json.dumps({'compiled': signoff.scanner.COMPILED, 'report': report.to_dict()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    assert result["compiled"] is not pure
    return result


def test_compiled_and_pure_builds_report_the_same(tmp_path: Path) -> None:
    _corpus(tmp_path)
    compiled = _report(tmp_path, pure=False)["report"]
    pure = _report(tmp_path, pure=True)["report"]
    assert isinstance(compiled, dict) and isinstance(pure, dict)
    assert len(compiled["files"]) > 150
    assert compiled["result"] == "fail"  # the corpus holds attacks
    internal = [f for f in compiled["findings"] if "internal" in f["rule_id"]]
    assert not internal, internal
    assert compiled == pure


def test_a_stale_build_is_not_run(tmp_path: Path) -> None:
    """A compiled module older than its source, or missing from its build, is not run: every
    scanner module then runs from source, with a warning.

    Checked on a copy of the package (the build others use here is left alone).
    """
    package = Path(signoff.scanner.__file__).parent.parent
    shutil.copytree(package, tmp_path / "signoff", ignore=shutil.ignore_patterns("__pycache__"))
    for shared in package.parent.glob("*__mypyc.*"):  # mypyc's library of the compiled group
        shutil.copy2(shared, tmp_path / shared.name)
    copy = tmp_path / "signoff" / "scanner"
    name, extension = sorted(compiled_modules().items())[0]
    check = (
        "import signoff.scanner as s, signoff.scanner.pickle_scan as p\n"
        "print(s.__file__.startswith(sys.argv[1]), s.COMPILED, p.__file__.endswith('.py'))\n"
    )
    env = {**{k: v for k, v in os.environ.items() if k != PURE_ENV}, "PYTHONPATH": str(tmp_path)}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-W", "always", "-c", "import sys\n" + check, str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
        )

    fresh = run()
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.split() == ["True", "True", "False"] and not fresh.stderr
    source_time = (copy / f"{name}.py").stat().st_mtime
    os.utime(copy / extension.name, (source_time - 60, source_time - 60))
    stale = run()
    assert stale.returncode == 0, stale.stderr
    assert stale.stdout.split() == ["True", "False", "True"]
    assert f"older than its source or incomplete ({name})" in stale.stderr
    assert "make compile" in stale.stderr
    (copy / extension.name).unlink()  # a partial build: one module of the group is missing
    partial = run()
    assert partial.returncode == 0, partial.stderr
    assert partial.stdout.split() == ["True", "False", "True"]
    assert f"incomplete ({name})" in partial.stderr
