"""Property: on random trees, digest_path equals a straightforward reference implementation."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from artifact_trees import Tree, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signoff.artifacts import digest_path
from signoff.errors import ArtifactError

GIT_PATHS = {".git", ".gitattributes", ".github", ".gitignore"}

# Names mixing the characters that order differently by component than by string ("-" and "."
# sort before "/"), case, non-ASCII, and the git names that are ignored only at the top level.
names = st.one_of(
    st.text(alphabet="ab-._Zé ", min_size=1, max_size=6).filter(lambda s: s not in {".", ".."}),
    st.sampled_from(sorted(GIT_PATHS)),
)
contents = st.one_of(st.binary(max_size=64), st.binary(min_size=3000, max_size=5000))
trees: st.SearchStrategy[Tree] = st.recursive(
    st.dictionaries(names, contents, max_size=4),
    lambda children: st.dictionaries(names, st.one_of(contents, children), max_size=4),
    max_leaves=12,
)


def reference(root: Path) -> tuple[list[tuple[str, int, str]], str]:
    """The manifest the simple way: os.walk, whole-file reads, PurePosixPath order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in GIT_PATHS]
            filenames = [f for f in filenames if f not in GIT_PATHS]
        for name in filenames:
            data = (here / name).read_bytes()
            rel = PurePosixPath((here / name).relative_to(root).as_posix())
            found.append((rel, len(data), hashlib.sha256(data).digest()))
    found.sort(key=lambda item: item[0])
    root_digest = hashlib.sha256(b"".join(d for _, _, d in found)).hexdigest()
    return [(str(p), size, d.hex()) for p, size, d in found], root_digest


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees, workers=st.integers(min_value=1, max_value=4))
def test_digest_path_matches_reference(
    tmp_path_factory: pytest.TempPathFactory, tree: Any, workers: int
) -> None:
    root = write_tree(tmp_path_factory.mktemp("tree"), tree)
    files, root_digest = reference(root)
    if not files:
        with pytest.raises(ArtifactError, match="no files"):
            digest_path(root, workers=workers)
        return
    manifest = digest_path(root, workers=workers)
    assert [(f.path, f.size, f.sha256) for f in manifest.files] == files
    assert manifest.root_digest == root_digest
    assert manifest.total_size == sum(size for _, size, _ in files)
