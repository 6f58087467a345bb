"""A progress bar for digesting large artifacts (shown on stderr, only for big inputs)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from signoff.artifacts import list_files
from signoff.cli.output import err_console
from signoff.errors import SignoffError
from signoff.registry import Progress as ProgressCallback

PROGRESS_THRESHOLD = 1 << 30  # bars only for artifacts over ~1 GiB; small ones finish at once


@contextmanager
def digest_progress(path: Path, label: str) -> Iterator[ProgressCallback | None]:
    """Yield a byte-count callback that drives a bar, or ``None`` for small or bad inputs.

    Listing the files first is cheap (stat only) and lets the bar know the total; errors in the
    listing are left to the digest itself to report.
    """
    try:
        total = sum(size for _, size in list_files(path))
    except SignoffError:
        total = 0
    if total < PROGRESS_THRESHOLD:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)

        def advance(n: int) -> None:
            bar.advance(task, n)

        yield advance
