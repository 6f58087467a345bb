"""Concurrent writers in separate processes: gap-free version numbers, no lost or duplicated
events, and an audit log that still verifies."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from signoff.registry import Registry

PROCESSES = 8
PER_PROCESS = 5


def _register_many(url: str, directory: str, worker: int, home: str) -> list[int]:
    os.environ["SIGNOFF_HOME"] = home  # the spawned process signs checkpoints with the same key
    numbers = []
    with Registry.open(url) as registry:
        for i in range(PER_PROCESS):
            artifact = Path(directory) / f"w{worker}-{i}"
            artifact.mkdir()
            (artifact / "weights.bin").write_bytes(f"{worker}-{i}".encode() * 100)
            version = registry.register_version("shared", artifact, actor=f"worker{worker}")
            numbers.append(version.number)
    return numbers


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_eight_processes_register_one_model(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        str(tmp_path / "registry.db")
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    registry, _ = Registry.init(url)
    with registry:
        registry.create_model("shared", risk_tier="minimal")
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(
            _register_many,
            [
                (url, str(tmp_path), worker, os.environ["SIGNOFF_HOME"])
                for worker in range(PROCESSES)
            ],
        )
    numbers = sorted(n for result in results for n in result)
    assert numbers == list(range(1, PROCESSES * PER_PROCESS + 1))
    with Registry.open(url) as registry:
        versions = registry.list_versions("shared")
        assert [v.number for v in versions] == numbers
        assert len({v.artifact.root_digest for v in versions}) == PROCESSES * PER_PROCESS
        events = registry.audit_events()
        registered = [e for e in events if e.type == "version.registered"]
        assert sorted(e.data["number"] for e in registered) == numbers  # none lost, none twice
        assert [e.seq for e in events] == list(range(len(events)))
        report = registry.audit_verify()
        assert report.ok, report.problems
        assert report.checkpoint_size == len(events)
