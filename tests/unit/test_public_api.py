"""The public surface: everything exported is documented and importable from ``signoff``."""

from __future__ import annotations

import inspect
from pathlib import Path

import signoff
from signoff.errors import SignoffError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_all_is_complete_and_documented() -> None:
    for name in signoff.__all__:
        member = getattr(signoff, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert inspect.getdoc(member), f"{name} has no docstring"


def test_registry_methods_are_in_the_readme() -> None:
    readme = README.read_text()
    for method in (
        "open",
        "init",
        "create_model",
        "register_version",
        "get_version",
        "list_models",
        "list_versions",
        "set_alias",
    ):
        assert f"{method}(" in readme, f"README does not document Registry.{method}"


def test_every_error_has_an_exit_code_and_http_status() -> None:
    errors = [getattr(signoff, n) for n in signoff.__all__ if n.endswith("Error")]
    assert all(issubclass(e, SignoffError) for e in errors)
    assert {e.exit_code for e in errors} == {1, 2}
    assert all(400 <= e.http_status < 600 for e in errors)
