"""The digest progress bar: shown for large artifacts only, and it counts every byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoff.artifacts import digest_path
from signoff.cli import progress


def test_small_artifacts_get_no_bar(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"x" * 1000)
    with progress.digest_progress(tmp_path, "digesting") as callback:
        assert callback is None


def test_large_artifacts_get_a_bar_that_reaches_the_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lower the ~1 GiB threshold so a small real file counts as "large" for this test.
    monkeypatch.setattr(progress, "PROGRESS_THRESHOLD", 1000)
    (tmp_path / "w.bin").write_bytes(b"x" * 5000)
    seen: list[int] = []
    with progress.digest_progress(tmp_path, "digesting") as callback:
        assert callback is not None

        def record(n: int) -> None:
            seen.append(n)
            callback(n)

        digest_path(tmp_path, progress=record)
    assert sum(seen) == 5000


def test_bad_path_leaves_the_error_to_the_digest(tmp_path: Path) -> None:
    with progress.digest_progress(tmp_path / "missing", "digesting") as callback:
        assert callback is None
