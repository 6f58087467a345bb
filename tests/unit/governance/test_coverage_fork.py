"""Coverage's forked evaluation: same drift, same order, and a failing child costs nothing."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from signoff.governance import coverage
from signoff.governance.coverage import Drift, _forked

ITEMS: list[Any] = [(f"m@{n}", n) for n in range(40)]


def drift_of_odd(chunk: Sequence[Any]) -> list[Drift]:
    return [
        Drift(ref, "approved", (f"rule: {n} is odd", str(os.getpid()))) for ref, n in chunk if n % 2
    ]


@pytest.fixture(autouse=True)
def small_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coverage, "MIN_PER_WORKER", 5)


def without_pids(drifted: list[Drift]) -> list[tuple[str, str, str]]:
    return [(d.ref, d.stage, d.reasons[0]) for d in drifted]


def test_forked_evaluation_matches_one_process_in_order() -> None:
    alone = _forked(drift_of_odd, ITEMS, 1)
    split = _forked(drift_of_odd, ITEMS, 4)
    assert without_pids(split) == without_pids(alone)
    assert len(alone) == 20
    pids = {d.reasons[1] for d in split}
    assert str(os.getpid()) in pids and len(pids) == 4  # three children did their share


def test_a_failing_child_has_its_share_evaluated_here() -> None:
    parent = os.getpid()

    def fails_in_children(chunk: Sequence[Any]) -> list[Drift]:
        if os.getpid() != parent:
            raise RuntimeError("boom")
        return drift_of_odd(chunk)

    drifted = _forked(fails_in_children, ITEMS, 3)
    assert without_pids(drifted) == without_pids(drift_of_odd(ITEMS))
    assert {d.reasons[1] for d in drifted} == {str(parent)}


def test_no_fork_while_other_threads_run() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        drifted = _forked(drift_of_odd, ITEMS, 4)
    finally:
        stop.set()
        thread.join()
    assert {d.reasons[1] for d in drifted} == {str(os.getpid())}


def test_small_runs_stay_in_one_process() -> None:
    drifted = _forked(drift_of_odd, ITEMS[:9], 4)
    assert {d.reasons[1] for d in drifted} == {str(os.getpid())}
