"""cProfile output shared by the benchmarks' ``--profile`` options."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable
from typing import Any


def profiled(run: Callable[[], Any], top: int) -> str:
    """The ``top`` functions of one call of ``run``, by own time and by cumulative time."""
    profiler = cProfile.Profile()
    profiler.runcall(run)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()
