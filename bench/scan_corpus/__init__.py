"""The artifact-scanner benchmark corpus: attack samples and clean real artifacts.

``build()`` writes every sample once under ``bench/.data/scan-corpus/`` (git-ignored) and keeps a
``manifest.json``; later calls reuse it while the corpus version and the libraries that wrote the
clean artifacts are unchanged. Each sample lives in its own directory, so its file can carry a
realistic name (``pytorch_model.bin``, ``config.json``) whatever the others are called.

Attack samples are bytes built by hand (``attacks.py``) and are never loaded by anything here: the
benchmark only hands their paths to static scanners. Clean samples are written by the libraries
themselves (``clean.py``). ``big_checkpoint()`` writes the >= 1 GiB PyTorch checkpoint for the
throughput run.

Run ``.venv/bin/python bench/scan_corpus [--rebuild]`` to build and list it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from .archives import Member, write_zip
from .attacks import ATTACKS, SYMLINK
from .clean import CLEAN, Missing

VERSION = 4
"""Bump when a builder changes: the cached corpus is rebuilt."""
REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_ROOT = REPO / "bench" / ".data" / "scan-corpus"
LIBRARIES = (
    "scikit-learn",
    "joblib",
    "numpy",
    "torch",
    "safetensors",
    "onnx",
    "gguf",
    "h5py",
    "keras",
)


@dataclass(frozen=True)
class Sample:
    id: str
    kind: str
    """``attack`` or ``clean``."""
    cls: str
    path: str
    """File (or directory) to scan, relative to the corpus root."""
    ref: str
    """Attacks: the report reproduced. Clean: what wrote it."""
    size: int = 0


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def build(root: Path = DEFAULT_ROOT, *, rebuild: bool = False) -> tuple[list[Sample], list[str]]:
    """Build (or reuse) the corpus: the samples, and the ids skipped for lack of a library."""
    manifest = root / "manifest.json"
    versions = library_versions()
    if manifest.exists() and not rebuild:
        data = json.loads(manifest.read_text())
        if data.get("version") == VERSION and data.get("libraries") == versions:
            return [Sample(**s) for s in data["samples"]], data["skipped"]
    for sub in ("attacks", "clean"):
        shutil.rmtree(root / sub, ignore_errors=True)
    samples: list[Sample] = []
    skipped: list[str] = []
    for attack in ATTACKS:
        where = root / "attacks" / attack.id
        where.mkdir(parents=True)
        try:
            files = attack.build()
        except (ImportError, Missing) as exc:
            skipped.append(f"{attack.id} ({exc})")
            shutil.rmtree(where)
            continue
        for name, data in files.items():
            if data.startswith(SYMLINK):
                (where / name).symlink_to(data[len(SYMLINK) :].decode())
            else:
                (where / name).write_bytes(data)
        target = attack.target or (next(iter(files)) if len(files) == 1 else None)
        samples.append(_sample(root, attack.id, "attack", attack.cls, where, target, attack.ref))
    for item in CLEAN:
        where = root / "clean" / item.id
        where.mkdir(parents=True)
        try:
            with _quiet():
                target = item.build(where)
        except (ImportError, Missing) as exc:
            skipped.append(f"{item.id} ({exc})")
            shutil.rmtree(where)
            continue
        samples.append(_sample(root, item.id, "clean", item.cls, where, target, item.note))
    manifest.write_text(
        json.dumps(
            {
                "version": VERSION,
                "libraries": versions,
                "samples": [asdict(s) for s in samples],
                "skipped": skipped,
            },
            indent=1,
        )
    )
    return samples, skipped


def _sample(
    root: Path, id: str, kind: str, cls: str, where: Path, target: str | None, ref: str
) -> Sample:
    path = where / target if target else where
    files = [path] if path.is_file() else [p for p in path.rglob("*") if not p.is_symlink()]
    size = sum(p.stat().st_size for p in files)
    return Sample(id, kind, cls, str(path.relative_to(root)), ref, size)


@contextlib.contextmanager
def _quiet():  # type: ignore[no-untyped-def]
    """Library chatter (keras, torch warnings) stays out of the benchmark output."""
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield


# --- the large checkpoint for throughput --------------------------------------------------------

HIDDEN, FFN, VOCAB, LAYERS = 2048, 5632, 32000, 4
"""A Llama-like slice: embeddings plus 4 decoder layers, float32: 1.08 GB (> 1 GiB)."""


def big_layout() -> list[tuple[str, tuple[int, ...]]]:
    layout: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            layout.append((f"{p}self_attn.{proj}.weight", (HIDDEN, HIDDEN)))
        for proj, shape in (("gate_proj", (FFN, HIDDEN)), ("up_proj", (FFN, HIDDEN))):
            layout.append((f"{p}mlp.{proj}.weight", shape))
        layout.append((f"{p}mlp.down_proj.weight", (HIDDEN, FFN)))
        layout.append((f"{p}input_layernorm.weight", (HIDDEN,)))
        layout.append((f"{p}post_attention_layernorm.weight", (HIDDEN,)))
    layout.append(("model.norm.weight", (HIDDEN,)))
    return layout


def big_checkpoint(root: Path = DEFAULT_ROOT, *, legacy: bool = False) -> tuple[Path, str] | None:
    """The >= 1 GiB checkpoint: ``torch.save`` of a state dict if torch is installed, else a
    hand-built torch zip of the same layout (archive/data.pkl + archive/data/N raw members).

    ``legacy``: the same state dict in torch's pre-1.6 format (pickles, then every storage's raw
    bytes in one stream); ``None`` without torch.
    """
    path = root / "big" / ("model-1g-legacy.pt" if legacy else "model-1g.pt")
    stamp = path.with_suffix(".how")
    if path.exists() and stamp.exists():
        return path, stamp.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import torch
    except ImportError:
        if legacy:
            return None
        how = "hand-built torch zip (torch not installed)"
        _hand_built_big(path)
    else:
        fmt = "legacy format" if legacy else "zip format"
        how = f"torch.save of a state dict, {fmt} (torch {torch.__version__})"
        gen = torch.Generator().manual_seed(0)
        sd = {name: torch.randn(shape, generator=gen) for name, shape in big_layout()}
        torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
        del sd
    stamp.write_text(how)
    return path, how


def _hand_built_big(path: Path) -> None:
    import numpy as np

    from .attacks import state_dict

    entries = [(name, str(i), shape) for i, (name, shape) in enumerate(big_layout())]
    rng = np.random.default_rng(0)

    def storage(shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
        remaining = int(np.prod(shape)) * 4
        while remaining:
            n = min(remaining, 16 << 20)
            yield rng.standard_normal(n // 4, dtype=np.float32).tobytes()
            remaining -= n

    members = [
        Member("archive/data.pkl", state_dict(entries)),
        Member("archive/byteorder", b"little"),
    ]
    members += [Member(f"archive/data/{key}", chunks=storage(shape)) for _, key, shape in entries]
    members.append(Member("archive/version", b"3\n"))
    with path.open("wb") as out:
        write_zip(out, members)
