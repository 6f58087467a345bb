"""The policy signoff ships: ``default.yaml`` next to this module."""

from __future__ import annotations

from importlib.resources import files


def default_policy_text() -> str:
    """The text of the shipped default policy (load it with ``Policy.load``)."""
    return files("signoff.policy").joinpath("default.yaml").read_text(encoding="utf-8")
