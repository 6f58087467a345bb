"""Which globals a pickle may name: allowlist profiles, user extensions, known-dangerous callables.

A pickle can only run code through the globals it imports (``GLOBAL``, ``INST``, ``STACK_GLOBAL``),
so the scanner checks each of them here. Anything not on the allowlist fails the scan; the
known-dangerous table only decides how loudly (it names *why*, so a reviewer sees "process
execution" rather than "not on the allowlist"). A dangerous callable can never be allowlisted.
"""

from __future__ import annotations

import _compat_pickle
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from signoff.scanner.findings import Severity

PROFILE_NAMES = ("python", "numpy", "pytorch", "sklearn", "joblib", "xgboost", "lightgbm", "pandas")
_PROFILE_DIR = Path(__file__).with_name("allowlist_profiles")

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_ENTRY = re.compile(rf"^{_IDENT}(?:\.{_IDENT})*\.(?:{_IDENT}|\*)$")

# Reasons, as shown to reviewers. Gadgets only reach code through other globals, so they are
# "high"; everything else runs code, touches the system or loads more pickles: "critical".
CODE = "code execution"
PROCESS = "process execution"
FILES = "file system"
NETWORK = "network"
IMPORTS = "import machinery"
NESTED = "nested deserialiser"
INTERPRETER = "interpreter tampering"
NATIVE = "native code"
GADGET = "call/attribute gadget"
SCANNER = "scanner tampering"

# Modules dangerous as a whole, submodules included.
_WHOLE_MODULES: dict[str, str] = {
    **dict.fromkeys(
        ("os", "posix", "nt", "_posixsubprocess", "subprocess", "pty", "popen2"), PROCESS
    ),
    **dict.fromkeys(("commands", "multiprocessing", "concurrent", "threading", "_thread"), PROCESS),
    **dict.fromkeys(("asyncio", "_winapi", "msvcrt", "winreg", "_winreg", "mailcap"), PROCESS),
    **dict.fromkeys(
        ("shutil", "tempfile", "glob", "fileinput", "zipfile", "tarfile", "mmap"), FILES
    ),
    **dict.fromkeys(("sqlite3", "linecache", "py_compile", "compileall", "fcntl", "dbm"), FILES),
    **dict.fromkeys(("socket", "_socket", "ssl", "_ssl", "socketserver", "select"), NETWORK),
    **dict.fromkeys(("selectors", "urllib", "urllib2", "urllib3", "requests", "httpx"), NETWORK),
    **dict.fromkeys(
        ("aiohttp", "http", "httplib", "ftplib", "smtplib", "smtpd", "poplib"), NETWORK
    ),
    **dict.fromkeys(("imaplib", "nntplib", "telnetlib", "xmlrpc", "xmlrpclib", "wsgiref"), NETWORK),
    **dict.fromkeys(("webbrowser", "antigravity", "logging.handlers"), NETWORK),
    **dict.fromkeys(
        ("importlib", "imp", "pkgutil", "zipimport", "site", "ensurepip", "pip"), IMPORTS
    ),
    **dict.fromkeys(("venv", "distutils", "setuptools", "pkg_resources"), IMPORTS),
    **dict.fromkeys(("runpy", "code", "codeop", "pdb", "bdb", "trace", "timeit", "cProfile"), CODE),
    **dict.fromkeys(("profile", "pydoc", "doctest", "idlelib", "lib2to3", "rlcompleter"), CODE),
    **dict.fromkeys(("tkinter", "_tkinter", "Tkinter", "logging.config", "cffi"), CODE),
    **dict.fromkeys(
        ("sys", "gc", "atexit", "signal", "ctypes", "_ctypes", "resource"), INTERPRETER
    ),
    **dict.fromkeys(("getpass", "termios", "tty", "readline"), INTERPRETER),
    **dict.fromkeys(("marshal", "pickle", "_pickle", "cPickle", "dill", "cloudpickle"), NESTED),
    **dict.fromkeys(("shelve", "jsonpickle", "pstats", "yaml.constructor"), NESTED),
    **dict.fromkeys(("fickling", "picklescan", "modelscan", "signoff"), SCANNER),
    # Third-party namespaces that compile, run or fetch code.
    **dict.fromkeys(
        ("numpy.f2py", "numpy.testing", "torch.jit", "torch.fx", "torch.package"), CODE
    ),
    **dict.fromkeys(("torch._dynamo", "torch._inductor", "torch.utils.cpp_extension"), CODE),
    **dict.fromkeys(("torch.utils.bottleneck", "torch.compiler", "pandas.core.computation"), CODE),
    **dict.fromkeys(
        ("numpy.distutils", "torch.utils.collect_env", "torch.multiprocessing"), PROCESS
    ),
    **dict.fromkeys(("joblib.parallel", "joblib._parallel_backends", "joblib.pool"), PROCESS),
    **dict.fromkeys(("joblib.externals", "sklearn.utils._testing"), PROCESS),
    **dict.fromkeys(("torch.hub", "torch.distributed", "numpy.lib._datasource"), NETWORK),
    **dict.fromkeys(("sklearn.datasets",), NETWORK),
    **dict.fromkeys(("pandas.io", "scipy.io"), FILES),
    **dict.fromkeys(("numpy.lib.npyio", "numpy.lib._npyio_impl", "joblib.memory"), FILES),
    **dict.fromkeys(
        ("joblib._memmapping_reducer", "numpy.core.memmap", "numpy._core.memmap"), FILES
    ),
    **dict.fromkeys(
        ("torch._C", "torch.ops", "torch._ops", "torch.library", "torch.classes"), NATIVE
    ),
    **dict.fromkeys(("numpy.ctypeslib",), NATIVE),
    **dict.fromkeys(
        ("torch.utils._config_module", "torch.utils.data.datapipes.utils.decoder"), NESTED
    ),
}

# Single callables (or classes) in otherwise ordinary modules.
_NAMES: dict[str, dict[str, str]] = {
    "builtins": {
        **dict.fromkeys(("eval", "exec", "compile", "execfile", "__build_class__"), CODE),
        **dict.fromkeys(("__import__", "reload"), IMPORTS),
        **dict.fromkeys(("open", "file"), FILES),
        "help": PROCESS,  # the pager runs an external program
        **dict.fromkeys(("breakpoint", "input", "raw_input", "exit", "quit"), INTERPRETER),
        **dict.fromkeys(("getattr", "setattr", "delattr", "globals", "locals", "vars"), GADGET),
        **dict.fromkeys(("apply", "map", "filter"), GADGET),
    },
    "io": dict.fromkeys(("open", "open_code", "FileIO"), FILES),
    "_io": dict.fromkeys(("open", "open_code", "FileIO"), FILES),
    "codecs": dict.fromkeys(("open",), FILES),
    "tokenize": dict.fromkeys(("open",), FILES),
    "gzip": dict.fromkeys(("open", "GzipFile"), FILES),
    "bz2": dict.fromkeys(("open", "BZ2File"), FILES),
    "lzma": dict.fromkeys(("open", "LZMAFile"), FILES),
    "platform": dict.fromkeys(("popen",), PROCESS),
    "operator": dict.fromkeys(
        ("attrgetter", "itemgetter", "methodcaller", "getitem", "setitem", "delitem", "call"),
        GADGET,
    ),
    "_operator": dict.fromkeys(
        ("attrgetter", "itemgetter", "methodcaller", "getitem", "setitem", "delitem", "call"),
        GADGET,
    ),
    "functools": dict.fromkeys(("partial", "partialmethod", "reduce", "update_wrapper"), GADGET),
    "_functools": dict.fromkeys(("partial", "reduce"), GADGET),
    "itertools": dict.fromkeys(("starmap",), GADGET),
    "types": {
        **dict.fromkeys(("CodeType", "FunctionType", "LambdaType", "MethodType"), CODE),
        **dict.fromkeys(("ModuleType", "new_class"), IMPORTS),
    },
    "weakref": dict.fromkeys(("finalize",), INTERPRETER),
    "copyreg": dict.fromkeys(
        ("add_extension", "remove_extension", "clear_extension_cache", "pickle", "constructor"),
        INTERPRETER,
    ),
    "yaml": dict.fromkeys(
        ("load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all"), NESTED
    )
    | dict.fromkeys(("Loader", "UnsafeLoader", "FullLoader"), NESTED),
    "numpy": {
        "load": NESTED,
        **dict.fromkeys(("save", "savez", "savez_compressed", "savetxt", "loadtxt"), FILES),
        **dict.fromkeys(("genfromtxt", "fromfile", "fromregex", "memmap", "tofile"), FILES),
        "DataSource": NETWORK,
    },
    "numpy.lib.format": {"read_array": NESTED, "open_memmap": FILES, "write_array": FILES},
    "torch": {"load": NESTED, "save": FILES, "from_file": FILES, "compile": CODE},
    "torch.serialization": dict.fromkeys(("load", "_load", "_legacy_load", "save"), NESTED),
    "torch.storage": dict.fromkeys(("_load_from_bytes",), NESTED),
    "torch.export": dict.fromkeys(("load",), NESTED),
    "joblib": {"load": NESTED, "dump": FILES, "Memory": FILES, "Parallel": PROCESS},
    "joblib.numpy_pickle": dict.fromkeys(
        ("load", "_unpickle", "load_compatibility", "load_temporary_memmap"), NESTED
    )
    | {"dump": FILES},
    "joblib.numpy_pickle_compat": dict.fromkeys(("load_compatibility", "read_zfile"), NESTED),
    "sklearn.externals.joblib": {"load": NESTED, "dump": FILES},
    "sklearn.externals.joblib.numpy_pickle": {"load": NESTED, "dump": FILES},
    "pandas": {
        "read_pickle": NESTED,
        "eval": CODE,
        **dict.fromkeys(
            (
                "read_csv",
                "read_table",
                "read_fwf",
                "read_excel",
                "read_json",
                "read_html",
                "read_xml",
                "read_hdf",
                "read_feather",
                "read_parquet",
                "read_orc",
                "read_sas",
                "read_spss",
                "read_sql",
                "read_sql_query",
                "read_sql_table",
                "read_stata",
                "read_clipboard",
                "HDFStore",
                "ExcelWriter",
            ),
            FILES,
        ),
    },
    "keras.models": dict.fromkeys(("load_model",), NESTED),
    "keras.saving": dict.fromkeys(("load_model",), NESTED),
    "tensorflow.keras.models": dict.fromkeys(("load_model",), NESTED),
    "tensorflow.saved_model": dict.fromkeys(("load",), NESTED),
    "tensorflow.io": dict.fromkeys(("read_file", "write_file", "gfile"), FILES),
}

# Dunder names reached by attribute traversal ("Foo.__globals__") lead into interpreter
# internals. These few are plain constructors pickle itself may name at protocols 0/1.
_DUNDER_EXEMPT = frozenset({"copyreg.__newobj__", "copyreg.__newobj_ex__", "copy_reg.__newobj__"})


@dataclass(frozen=True)
class Danger:
    """Why a global is dangerous and how severe naming it is."""

    reason: str
    severity: Severity
    rule: str
    """The table entry that matched, e.g. ``os.*`` or ``builtins.eval``."""


def _is_dunder(part: str) -> bool:
    return len(part) > 4 and part.startswith("__") and part.endswith("__")


def py3_name(module: str, name: str) -> tuple[str, str]:
    """The Python 3 spelling pickle loads for a protocol 0-2 name (``__builtin__``: builtins)."""
    mapped = _compat_pickle.NAME_MAPPING.get((module, name))
    if mapped is not None:
        return mapped
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _danger_of(module: str, name: str) -> Danger | None:
    path = module.split(".") + name.split(".")
    for k in range(1, len(path) + 1):
        prefix = ".".join(path[:k])
        reason = _WHOLE_MODULES.get(prefix)
        if reason is not None:
            return Danger(reason, _severity(reason), f"{prefix}.*")
        if k < len(path):
            names = _NAMES.get(prefix)
            if names is not None and path[k] in names:
                reason = names[path[k]]
                return Danger(reason, _severity(reason), f"{prefix}.{path[k]}")
    full = f"{module}.{name}"
    if full not in _DUNDER_EXEMPT and any(_is_dunder(part) for part in name.split(".")):
        return Danger(INTERPRETER, Severity.CRITICAL, full)
    return None


def _severity(reason: str) -> Severity:
    return Severity.HIGH if reason == GADGET else Severity.CRITICAL


def danger(module: str, name: str) -> Danger | None:
    """The known danger of ``module.name`` (checked under its Python 2 and 3 spellings), if any."""
    found = _danger_of(module, name)
    if found is None:
        mapped = py3_name(module, name)
        if mapped != (module, name):
            found = _danger_of(*mapped)
    return found


def dangerous_reason(module: str, name: str) -> str | None:
    """Why ``module.name`` is known-dangerous ("code execution", ...), or None."""
    found = danger(module, name)
    return found.reason if found else None


def _load_profile(name: str) -> frozenset[str]:
    text = (_PROFILE_DIR / f"{name}.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


PROFILES: dict[str, frozenset[str]] = {name: _load_profile(name) for name in PROFILE_NAMES}
"""Built-in allowlist profiles, one per ecosystem (data in ``allowlist_profiles/*.txt``)."""


def entry_problem(entry: str) -> str | None:
    """Why ``entry`` cannot be added to an allowlist (malformed or known-dangerous), or None."""
    if not _ENTRY.match(entry):
        return f"allowlist entry {entry!r} is not of the form module.name or module.*"
    module, _, name = entry.rpartition(".")
    probe = danger(module, "x") if name == "*" else danger(module, name)
    if probe is not None and (name != "*" or probe.rule.endswith(".*")):
        return (
            f"{entry} is a known-dangerous import ({probe.reason}, matches {probe.rule}); "
            "no allowlist entry can make it acceptable"
        )
    return None


TORCHSCRIPT_BUILDERS = frozenset(
    ("torch.jit._pickle", name)
    for name in (
        "build_intlist",
        "build_tensorlist",
        "build_doublelist",
        "build_boollist",
        "build_tensor_from_id",
        "restore_type_tag",
    )
)
"""Value rebuilders TorchScript's pickler names (each returns its argument, tagged)."""
_TORCHSCRIPT_NATIVE = ("__torch__.torch.classes.",)
_TORCHSCRIPT_NATIVE_OK = ("__torch__.torch.classes.quantized.",)
"""Torchbind classes are C++ code of whatever library registered them; torch's own are fine."""


def torchscript_global(module: str, name: str) -> bool:
    """Whether a pickle *of a TorchScript archive* may name ``module.name`` whatever the allowlist.

    ``torch.jit.load`` resolves ``__torch__.*`` against the classes compiled from the archive's
    own ``code/`` (reviewed on its own), never by importing Python, and the
    ``torch.jit._pickle`` builders only rebuild values. Torchbind classes
    (``__torch__.torch.classes.<ns>``) outside torch's own namespaces are not covered.
    """
    if (module, name) in TORCHSCRIPT_BUILDERS:
        return True
    if module != "__torch__" and not module.startswith("__torch__."):
        return False
    dotted = f"{module}.{name}"
    if dotted.startswith(_TORCHSCRIPT_NATIVE) and not dotted.startswith(_TORCHSCRIPT_NATIVE_OK):
        return False
    parts = dotted.split(".")
    return all(part.isidentifier() for part in parts) and not any(map(_is_dunder, parts[1:]))


Decision = tuple[Danger | None, bool]
"""What an allowlist says of one import: its known danger (if any), and whether it is allowed."""
_MAX_DECISIONS = 1 << 14
"""Decisions an allowlist keeps (a pickle naming ever new globals cannot grow it further)."""


@dataclass(frozen=True)
class Allowlist:
    """Globals a pickle may name: exact ``module.qualname`` entries or ``module.*`` wildcards."""

    entries: frozenset[str]
    profiles: tuple[str, ...]
    torchscript: bool = False
    """Scanning a pickle of a TorchScript archive: :func:`torchscript_global` names pass too."""
    _decisions: dict[tuple[str, str], Decision] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    """Decisions already taken: the allowlist is immutable, so each one is computed once (a
    scan asks about the same few globals, ``torch._utils._rebuild_tensor_v2`` ..., many times)."""
    _torchscript: list[Allowlist] = field(
        default_factory=list, init=False, repr=False, compare=False, hash=False
    )
    """:meth:`for_torchscript`, made once (it keeps its own decisions)."""

    @classmethod
    def default(cls) -> Allowlist:
        """Every built-in profile (built once: allowlists are immutable)."""
        if cls is Allowlist:
            return _default()
        return cls.from_profiles(PROFILE_NAMES)

    @classmethod
    def from_profiles(cls, names: Iterable[str]) -> Allowlist:
        """The union of the named built-in profiles."""
        chosen = tuple(dict.fromkeys(names))
        unknown = [name for name in chosen if name not in PROFILES]
        if unknown:
            raise ValueError(
                f"unknown allowlist profile(s) {', '.join(unknown)}; "
                f"available: {', '.join(PROFILE_NAMES)}"
            )
        entries: frozenset[str] = frozenset().union(*(PROFILES[name] for name in chosen))
        return cls(entries=entries, profiles=chosen)

    def with_extra(self, entries: Iterable[str]) -> Allowlist:
        """This allowlist plus user entries; raises ``ValueError`` for one not of module.name form.

        Entries naming known-dangerous imports are kept but never take effect (:meth:`allows`
        checks danger first); :func:`entry_problem` tells a user so before they add one.
        """
        extra = frozenset(entry.strip() for entry in entries)
        for entry in extra:
            if not _ENTRY.match(entry):
                raise ValueError(
                    f"allowlist entry {entry!r} is not of the form module.name or module.*"
                )
        return Allowlist(
            entries=self.entries | extra, profiles=self.profiles, torchscript=self.torchscript
        )

    def for_torchscript(self) -> Allowlist:
        """This allowlist for the pickles of a TorchScript archive."""
        if self.torchscript:
            return self
        if not self._torchscript:
            self._torchscript.append(
                Allowlist(entries=self.entries, profiles=self.profiles, torchscript=True)
            )
        return self._torchscript[0]

    def allows(self, module: str, name: str) -> bool:
        """Whether a pickle may import ``name`` from ``module``.

        Exact entries match dotted names (attribute traversal such as ``ZoneInfo._unpickle``);
        wildcards only match plain, non-dunder names. Known-dangerous names are never allowed
        (but for TorchScript's value builders in a TorchScript archive's pickles).
        """
        return self.decision(module, name)[1]

    def decision(self, module: str, name: str) -> Decision:
        """``(danger, allowed)`` for an import of ``module.name``: the known danger, if any (no
        danger is reported for TorchScript names this allowlist accepts), and :meth:`allows`."""
        key = (module, name)
        decided = self._decisions.get(key)
        if decided is None:
            decided = self._decide(module, name)
            if len(self._decisions) < _MAX_DECISIONS:
                self._decisions[key] = decided
        return decided

    def _decide(self, module: str, name: str) -> Decision:
        if self.torchscript and torchscript_global(module, name):
            return None, True
        found = danger(module, name)
        if found is not None:
            return found, False
        for mod, nm in {(module, name), py3_name(module, name)}:
            if f"{mod}.{nm}" in self.entries:
                return None, True
            if "." not in nm and not _is_dunder(nm) and f"{mod}.*" in self.entries:
                return None, True
        return None, False


@functools.cache
def _default() -> Allowlist:
    return Allowlist.from_profiles(PROFILE_NAMES)
