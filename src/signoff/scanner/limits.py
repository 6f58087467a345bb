"""Budgets that keep a scan bounded whatever the input: hitting one is a finding, never a pass."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-scan limits. Defaults suit real models (multi-GB checkpoints, deep sklearn pipelines)."""

    max_depth: int = 4
    """Nesting of containers (zip in zip in tar ...)."""
    max_members: int = 100_000
    """Members of one archive."""
    max_expanded_bytes: int = 64 << 30
    """Total bytes expanded out of compressed members of one top-level file."""
    max_compression_ratio: int = 200
    """A member expanding more than this many times its compressed size is a bomb."""
    max_pickle_bytes: int = 8 << 30
    """Bytes of one pickle stream walked opcode by opcode."""
    max_opcodes: int = 50_000_000
    """Opcodes walked in one pickle stream."""
    max_seconds_per_file: float = 300.0
    """Wall-clock budget per top-level file."""
    max_header_bytes: int = 100 << 20
    """safetensors / GGUF metadata headers."""
