"""Manifest.to_dict / from_dict: round trip, and rejection of anything tampered or malformed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from signoff.artifacts import Manifest, digest_path
from signoff.errors import InvalidInputError


@pytest.fixture
def data(model_dir: Path) -> dict[str, Any]:
    return digest_path(model_dir).to_dict()


def test_round_trip_through_json(model_dir: Path) -> None:
    manifest = digest_path(model_dir)
    data = json.loads(json.dumps(manifest.to_dict()))
    assert set(data) == {"root_digest", "total_size", "files"}
    assert set(data["files"][0]) == {"path", "size", "sha256"}
    assert Manifest.from_dict(data) == manifest


def test_single_file_round_trip(model_dir: Path) -> None:
    manifest = digest_path(model_dir / "config.json")
    assert Manifest.from_dict(manifest.to_dict()) == manifest


def test_file_order_in_input_does_not_matter(data: dict[str, Any]) -> None:
    shuffled = {**data, "files": list(reversed(data["files"]))}
    assert Manifest.from_dict(shuffled) == Manifest.from_dict(data)


def tampered(data: dict[str, Any], change: Any) -> dict[str, Any]:
    result = copy.deepcopy(data)
    change(result)
    return result


def _flip_digest(d: dict[str, Any]) -> None:
    sha = d["files"][1]["sha256"]
    d["files"][1]["sha256"] = ("0" if sha[0] != "0" else "1") + sha[1:]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (_flip_digest, "does not match its files"),
        (lambda d: d["files"].pop(), "total_size"),
        (lambda d: d["files"][0].update(path="zzz-sorts-last"), "does not match its files"),
        (lambda d: d.update(root_digest="0" * 64), "does not match its files"),
        (lambda d: d.update(root_digest="sha256:" + d["root_digest"]), "lowercase hex"),
        (lambda d: d.update(total_size=d["total_size"] + 1), "total_size"),
        (lambda d: d.update(total_size=True), "total_size"),
        (lambda d: d.update(extra=1), "unknown extra"),
        (lambda d: d.pop("root_digest"), "missing root_digest"),
        (lambda d: d.update(files=[]), "non-empty list"),
        (lambda d: d.update(files="x"), "non-empty list"),
        (lambda d: d["files"].__setitem__(0, "x"), "JSON object"),
        (lambda d: d["files"][0].pop("size"), "missing size"),
        (lambda d: d["files"][0].update(size=-1), "non-negative"),
        (lambda d: d["files"][0].update(size=1.5), "non-negative"),
        (lambda d: d["files"][0].update(sha256="AB" * 32), "lowercase hex"),
        (lambda d: d["files"][0].update(path=7), "must be a string"),
        (lambda d: d["files"][0].update(path="/etc/passwd"), "normalized relative"),
        (lambda d: d["files"][0].update(path="a/../../x"), "normalized relative"),
        (lambda d: d["files"][0].update(path="a//b"), "normalized relative"),
        (lambda d: d["files"][0].update(path="."), "single-file"),
        (lambda d: d["files"][0].update(path=".git/config"), "ignored git path"),
        (lambda d: d["files"].append(dict(d["files"][0])), "more than once"),
        (lambda d: d["files"].append({**d["files"][0], "path": "a-c/x"}), "below another"),
    ],
)
def test_rejects_tampered_or_malformed(data: dict[str, Any], change: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match) as info:
        Manifest.from_dict(tampered(data, change))
    assert info.value.hint


def test_rejects_non_mapping() -> None:
    with pytest.raises(InvalidInputError, match="JSON object"):
        Manifest.from_dict([])  # type: ignore[arg-type]


def test_root_digest_binds_order_not_names(data: dict[str, Any]) -> None:
    """Like model_signing's subject digest, the root covers the digests in path order only.

    Renaming a file without changing the order keeps the root digest; the names are bound by
    the manifest itself (``verify`` compares paths, so a rename shows as missing + extra).
    """
    renamed = tampered(data, lambda d: d["files"][0].update(path=d["files"][0]["path"] + "0"))
    assert Manifest.from_dict(renamed).root_digest == data["root_digest"]
