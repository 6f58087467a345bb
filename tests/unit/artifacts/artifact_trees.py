"""Real file trees for the artifact tests, built from nested dicts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TypeAlias, Union

Tree: TypeAlias = Mapping[str, Union[bytes, "Tree"]]


def write_tree(root: Path, tree: Tree) -> Path:
    """Create ``tree`` under ``root`` (bytes are files, mappings are directories)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, node in tree.items():
        if isinstance(node, bytes):
            (root / name).write_bytes(node)
        else:
            write_tree(root / name, node)
    return root


# A model directory exercising every rule that matters for digest equality with model_signing:
# nested directories, an empty file, component-wise ordering ("a/b" sorts before "a-c" although
# "a-c" < "a/b" as strings), and git paths: ignored at the top level, hashed when nested.
MODEL_TREE: Tree = {
    "config.json": b'{"hidden_size": 8}\n',
    "empty.bin": b"",
    "a": {"b": b"inside a", "z": {"deep.bin": b"\x00\x01" * 1000}},
    "a-c": b"sorts after a/ by components",
    "weights": {"shard-00001.safetensors": bytes(range(256)) * 4096, "shard-00002.bin": b"w2"},
    ".git": {"HEAD": b"ref: refs/heads/main\n", "objects": {"ab": b"blob"}},
    ".gitattributes": b"*.bin filter=lfs\n",
    ".gitignore": b"*.tmp\n",
    ".github": {"workflows": {"ci.yml": b"on: push\n"}},
    "sub": {".gitignore": b"nested, so hashed\n", ".git": {"x": b"nested .git is hashed too"}},
}
