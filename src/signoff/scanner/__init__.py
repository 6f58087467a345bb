"""Static artifact scanner: finds code hidden in model files without loading them.

Most of its modules can be compiled with mypyc (``make compile`` puts an extension module next to
each source; Python imports the extension first). A compiled build must never run other code than
its sources show, so this package loads every module of the scanner from source instead when any
compiled module is older than its source or the build is incomplete (a warning says so), or when
``SIGNOFF_PURE_PYTHON=1`` asks for it. Compiled and pure modules are never mixed: compiled code
relies on the exact layout of the compiled classes it imports.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PURE_ENV = "SIGNOFF_PURE_PYTHON"
_HERE = Path(__file__).resolve().parent
BUILD_LIST = _HERE / "compiled-modules.txt"
"""The modules ``make compile`` compiled together, one name per line (not in version control)."""


def compiled_modules() -> dict[str, Path]:
    """The scanner modules with a compiled build here: module name -> extension file."""
    found: dict[str, Path] = {}
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        for extension in _HERE.glob(f"*{suffix}"):
            name = extension.name.removesuffix(suffix)
            if (_HERE / f"{name}.py").is_file():
                found[name] = extension
    return found


def _stale(compiled: dict[str, Path]) -> list[str]:
    """Compiled modules that must not run: older than their source, or not of one whole build.

    ``make compile`` lists the modules it compiled in ``BUILD_LIST``; an extension not listed
    there, or a listed one that is missing, means a partial build.
    """
    try:
        built = set(BUILD_LIST.read_text(encoding="utf-8").split())
    except OSError:
        built = set()
    mismatched = built.symmetric_difference(compiled)
    older = {
        name
        for name, extension in compiled.items()
        if extension.stat().st_mtime < (_HERE / f"{name}.py").stat().st_mtime
    }
    return sorted(mismatched | older)


class _FromSource:
    """A meta-path finder that loads the named scanner modules from their ``.py`` files."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in self.names:
            return None
        return importlib.util.spec_from_file_location(fullname, _HERE / f"{name}.py")


def _choose_build() -> bool:
    """Install the source finder when the compiled build must not run; whether it is compiled."""
    compiled = compiled_modules()
    if not compiled:
        return False
    stale = _stale(compiled)
    if stale:
        warnings.warn(
            f"the compiled scanner is older than its source or incomplete ({', '.join(stale)}); "
            "running the pure-Python scanner instead. Rebuild it with `make compile`.",
            RuntimeWarning,
            stacklevel=2,
        )
    if stale or os.environ.get(PURE_ENV, "") not in ("", "0"):
        sys.meta_path.insert(0, _FromSource(set(compiled)))
        return False
    return True


COMPILED = _choose_build()
"""Whether the scanner runs its mypyc-compiled modules."""
