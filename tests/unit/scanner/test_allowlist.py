"""Allowlist profiles, user extensions and the known-dangerous table."""

from __future__ import annotations

import re

import numpy as np
import pytest

from signoff.scanner.allowlist import (
    PROFILE_NAMES,
    PROFILES,
    Allowlist,
    danger,
    dangerous_reason,
    entry_problem,
)
from signoff.scanner.findings import Severity

ENTRY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def test_every_ecosystem_has_a_profile() -> None:
    assert set(PROFILES) == {
        "python", "numpy", "pytorch", "sklearn", "joblib", "xgboost", "lightgbm", "pandas",
    }  # fmt: skip
    sizes = {name: len(entries) for name, entries in PROFILES.items()}
    assert sizes["sklearn"] > 400 and sizes["numpy"] > 150 and sizes["pytorch"] > 250
    assert Allowlist.default().profiles == PROFILE_NAMES
    assert Allowlist.default().entries == frozenset().union(*PROFILES.values())


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_profile_entries_are_exact_and_safe(profile: str) -> None:
    for entry in PROFILES[profile]:
        assert ENTRY.match(entry), entry  # exact names only: no wildcards in built-in profiles
        module, _, name = entry.rpartition(".")
        assert dangerous_reason(module, name) is None, entry
        assert entry_problem(entry) is None, entry


def test_sklearn_profile_covers_every_estimator() -> None:
    from sklearn.utils import all_estimators

    missing = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for _, cls in all_estimators()
        if f"{cls.__module__}.{cls.__qualname__}" not in PROFILES["sklearn"]
    )
    assert missing == [], (
        "scikit-learn has estimators the sklearn profile does not list; add them to "
        "src/signoff/scanner/allowlist_profiles/sklearn.txt"
    )


def test_numpy_profile_covers_ufuncs_and_scalar_types() -> None:
    names = set()
    for attr in dir(np):
        value = getattr(np, attr)
        if isinstance(value, np.ufunc):
            names.add(f"numpy.{value.__name__}")
        elif isinstance(value, type) and issubclass(value, np.generic):
            names.add(f"{value.__module__}.{value.__qualname__}")
    assert sorted(names - PROFILES["numpy"]) == []
    assert "numpy.memmap" not in PROFILES["numpy"]


def test_from_profiles() -> None:
    allowlist = Allowlist.from_profiles(["numpy", "python", "numpy"])
    assert allowlist.profiles == ("numpy", "python")
    assert allowlist.allows("numpy._core.multiarray", "_reconstruct")
    assert not allowlist.allows("sklearn.linear_model._logistic", "LogisticRegression")
    with pytest.raises(ValueError, match="unknown allowlist profile"):
        Allowlist.from_profiles(["numpy", "tensorflow"])


def test_exact_and_wildcard_entries() -> None:
    allowlist = Allowlist.from_profiles([]).with_extra(["acme.layers.Dense", "acme.blocks.*"])
    assert allowlist.allows("acme.layers", "Dense")
    assert not allowlist.allows("acme.layers", "Conv")
    assert allowlist.allows("acme.blocks", "Residual")
    assert allowlist.allows("acme.blocks", "_private_helper")
    # A wildcard covers plain names of that module only: no attribute paths, dunders, submodules.
    assert not allowlist.allows("acme.blocks", "Residual.__init__")
    assert not allowlist.allows("acme.blocks", "__builtins__")
    assert not allowlist.allows("acme.blocks.sub", "Thing")


def test_python2_spellings_map_to_python3_entries() -> None:
    allowlist = Allowlist.from_profiles(["python"])
    assert allowlist.allows("__builtin__", "set")
    assert allowlist.allows("copy_reg", "_reconstructor")
    assert allowlist.allows("__builtin__", "xrange")


def test_dangerous_names_are_never_allowed() -> None:
    allowlist = Allowlist.default().with_extra(["os.system", "builtins.eval", "subprocess.*"])
    assert not allowlist.allows("os", "system")
    assert not allowlist.allows("builtins", "eval")
    assert not allowlist.allows("subprocess", "Popen")


def test_with_extra_validates_the_form() -> None:
    for bad in ("os", "os.", ".system", "a b.c", "mod.na-me", "mod.*.x", ""):
        with pytest.raises(ValueError, match=r"module\.name"):
            Allowlist.default().with_extra([bad])


def test_entry_problem_explains_refusals() -> None:
    assert entry_problem("acme.layers.Dense") is None
    assert entry_problem("acme.*") is None
    assert "process execution" in (entry_problem("os.system") or "")
    assert "os.*" in (entry_problem("os.*") or "")
    assert "not of the form" in (entry_problem("nope") or "")


@pytest.mark.parametrize(
    ("module", "name", "reason"),
    [
        ("builtins", "eval", "code execution"),
        ("__builtin__", "eval", "code execution"),
        ("os", "system", "process execution"),
        ("os.path", "join", "process execution"),  # every os submodule: os.* as a whole
        ("subprocess", "Popen", "process execution"),
        ("socket", "socket", "network"),
        ("shutil", "rmtree", "file system"),
        ("importlib", "import_module", "import machinery"),
        ("pickle", "loads", "nested deserialiser"),
        ("torch", "serialization.load", "nested deserialiser"),
        ("torch.serialization", "load", "nested deserialiser"),
        ("sys", "modules", "interpreter tampering"),
        ("numpy", "prod.__globals__", "interpreter tampering"),
        ("ctypes", "CDLL", "interpreter tampering"),
        ("picklescan.scanner", "scan_pickle_bytes", "scanner tampering"),
        ("builtins", "getattr", "call/attribute gadget"),
        ("operator", "attrgetter", "call/attribute gadget"),
    ],
)
def test_dangerous_reasons(module: str, name: str, reason: str) -> None:
    assert dangerous_reason(module, name) == reason


def test_danger_severity_and_rule() -> None:
    found = danger("os", "system")
    assert found is not None and found.severity is Severity.CRITICAL and found.rule == "os.*"
    gadget = danger("functools", "partial")
    assert gadget is not None and gadget.severity is Severity.HIGH
    assert danger("collections", "OrderedDict") is None
    assert danger("copyreg", "__newobj__") is None  # a plain constructor pickle names at proto 0/1
    assert danger("numpy.random._pickle", "__randomstate_ctor") is None  # not a dunder


def test_decisions_are_computed_once_and_agree_with_the_tables() -> None:
    allowlist = Allowlist.default()
    names = [
        ("os", "system"),
        ("__builtin__", "eval"),
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("mypkg", "Layer"),
        ("builtins", "getattr"),
    ]
    for module, name in names:
        found, allowed = allowlist.decision(module, name)
        assert found == danger(module, name)
        assert allowed == allowlist.allows(module, name) == allowlist._decide(module, name)[1]
        assert allowlist._decisions[(module, name)] == (found, allowed)  # kept


def test_torchscript_allowlist_is_made_once_and_decides_apart() -> None:
    allowlist = Allowlist.default()
    torchscript = allowlist.for_torchscript()
    assert (
        torchscript is allowlist.for_torchscript() and torchscript.for_torchscript() is torchscript
    )
    assert torchscript == Allowlist(allowlist.entries, allowlist.profiles, torchscript=True)
    assert torchscript.decision("__torch__.model", "Net") == (None, True)
    assert allowlist.decision("__torch__.model", "Net") == (None, False)


def test_decisions_kept_are_bounded() -> None:
    allowlist = Allowlist.from_profiles(["python"])
    for k in range(20_000):
        allowlist.decision("mypkg", f"Name{k}")
    assert len(allowlist._decisions) <= 1 << 14
    assert allowlist.decision("mypkg", "Name19999") == (None, False)
