"""Fixtures for the artifact tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from artifact_trees import MODEL_TREE, write_tree


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A small model directory built from ``MODEL_TREE``."""
    return write_tree(tmp_path / "model", MODEL_TREE)
