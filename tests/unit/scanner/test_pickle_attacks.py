"""The attack corpus: every known way to hide an import or a call in a pickle is caught.

Payloads are built by hand or with ``pickle.dumps`` of harmless objects; none is ever loaded.
"""

from __future__ import annotations

import copyreg
import os
import pickle
import subprocess
from pathlib import Path

import pytest
from test_pickle_payloads import (
    Reduce,
    binunicode,
    binunicode8,
    blocking,
    call_tail,
    canary_payloads,
    constructs,
    dumps,
    findings_of,
    global_op,
    proto,
    rules,
    short_unicode,
    string0,
    unicode0,
)

from signoff.scanner.findings import Severity
from signoff.scanner.pickle_scan import (
    RULE_CALL,
    RULE_DANGEROUS,
    RULE_MALFORMED,
    RULE_MUTATION,
    RULE_NESTED,
    RULE_PERSISTENT,
    RULE_UNLISTED,
    RULE_UNRESOLVABLE,
)

SYSTEM = f"{os.system.__module__}.system"  # posix.system here, nt.system on Windows


def _critical(findings: list, construct: str) -> None:
    match = [f for f in findings if f.construct == construct]
    assert match, f"no finding for {construct}: {[(f.rule_id, f.construct) for f in findings]}"
    assert match[0].rule_id == RULE_DANGEROUS
    assert match[0].severity is Severity.CRITICAL


# -- direct imports ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_os_system_by_reduce_at_every_protocol(protocol: int) -> None:
    findings = findings_of(dumps(Reduce(os.system, "true"), protocol))
    _critical(findings, SYSTEM)
    assert "process execution" in next(f.detail for f in findings if f.construct == SYSTEM)


def test_global_opcode_names_os_system() -> None:
    findings = findings_of(proto(2) + global_op("os", "system") + call_tail())
    _critical(findings, "os.system")
    assert next(f for f in findings if f.construct == "os.system").offset == 2


@pytest.mark.parametrize(
    "operand",
    [short_unicode, binunicode, binunicode8, unicode0, string0],
    ids=["SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING"],
)
def test_stack_global_operands_of_every_string_opcode(operand: object) -> None:
    assert callable(operand)
    data = proto() + operand("os") + operand("system") + b"\x93" + call_tail()
    _critical(findings_of(data), "os.system")


@pytest.mark.parametrize(
    "operands",
    [
        b"U\x02osU\x06system",  # SHORT_BINSTRING
        b"T\x02\x00\x00\x00osT\x06\x00\x00\x00system",  # BINSTRING
    ],
)
def test_stack_global_operands_from_py2_byte_strings(operands: bytes) -> None:
    _critical(findings_of(proto(2) + operands + b"\x93" + call_tail()), "os.system")


@pytest.mark.parametrize(
    ("put", "get"),
    [
        (b"\x94", b"h"),  # MEMOIZE / BINGET
        (b"q", b"h"),  # BINPUT / BINGET
        (b"r", b"j"),  # LONG_BINPUT / LONG_BINGET
        (b"p", b"g"),  # PUT / GET (text)
    ],
)
def test_stack_global_operands_through_the_memo(put: bytes, get: bytes) -> None:
    def put_op(key: int) -> bytes:
        if put == b"\x94":
            return put
        if put == b"q":
            return put + bytes([key])
        if put == b"r":
            return put + key.to_bytes(4, "little")
        return put + str(key).encode() + b"\n"

    def get_op(key: int) -> bytes:
        if get == b"h":
            return get + bytes([key])
        if get == b"j":
            return get + key.to_bytes(4, "little")
        return get + str(key).encode() + b"\n"

    data = (
        proto()
        + short_unicode("os")
        + put_op(0)
        + b"0"
        + short_unicode("system")
        + put_op(1)
        + b"0"
        + get_op(0)
        + get_op(1)
        + b"\x93"
        + call_tail()
    )
    _critical(findings_of(data), "os.system")


def test_memo_confusion_mixing_put_and_memoize() -> None:
    # picklescan #14: BINPUT fills slots 0 and 1, MEMOIZE then writes slots 2 and 3 (memo length),
    # so the BINGETs read the dangerous strings, not the harmless ones written last.
    data = (
        proto()
        + short_unicode("os")
        + b"q\x00"
        + short_unicode("system")
        + b"q\x01"
        + short_unicode("torch._utils")
        + b"\x94"
        + short_unicode("_rebuild_tensor_v2")
        + b"\x94"
        + b"h\x00h\x01\x93"
        + call_tail()
    )
    findings = findings_of(data)
    _critical(findings, "os.system")
    assert "torch._utils._rebuild_tensor_v2" not in constructs(findings)


def test_inst_opcode_imports_and_calls() -> None:
    _critical(findings_of(b"(S'true'\nios\nsystem\n."), "os.system")


def test_obj_opcode_calls_its_first_item() -> None:
    _critical(
        findings_of(proto(2) + b"(" + global_op("os", "system") + b"S'true'\no."), "os.system"
    )


def test_newobj_and_newobj_ex_of_a_dangerous_class() -> None:
    popen = proto() + short_unicode("subprocess") + short_unicode("Popen") + b"\x93"
    _critical(findings_of(popen + short_unicode("true") + b"\x85\x81."), "subprocess.Popen")
    _critical(findings_of(popen + short_unicode("true") + b"\x85}\x92."), "subprocess.Popen")
    assert subprocess.Popen  # the class is only named, never touched


def test_python2_module_names_are_mapped() -> None:
    _critical(
        findings_of(proto(2) + global_op("__builtin__", "eval") + call_tail()), "__builtin__.eval"
    )
    _critical(
        findings_of(proto(2) + global_op("commands", "getoutput") + call_tail()),
        "commands.getoutput",
    )


# -- indirect imports and calls ---------------------------------------------------------------


def test_getattr_of_import_chain() -> None:
    findings = findings_of(dumps(Reduce(getattr, Reduce(__import__, "os"), "system")))
    _critical(findings, "builtins.__import__")
    unresolved = [f for f in findings if f.rule_id == RULE_UNRESOLVABLE]
    assert unresolved and unresolved[0].severity is Severity.CRITICAL
    assert "builtins.getattr" in constructs(findings)


def test_getattr_on_an_allowlisted_class_is_checked_as_a_dotted_import() -> None:
    data = (
        proto()
        + short_unicode("builtins")
        + short_unicode("getattr")
        + b"\x93"
        + short_unicode("collections")
        + short_unicode("OrderedDict")
        + b"\x93"
        + short_unicode("__init__")
        + b"\x86R."
    )
    findings = findings_of(data)
    _critical(findings, "collections.OrderedDict.__init__")


def test_dotted_name_reaching_function_globals() -> None:
    data = proto() + short_unicode("numpy") + short_unicode("prod.__globals__") + b"\x93."
    _critical(findings_of(data), "numpy.prod.__globals__")


def test_stack_global_operands_built_by_a_call_are_unresolvable() -> None:
    # STACK_GLOBAL(str("os"), "system"): builtins.str is allowlisted, but its result is not a
    # string the scanner knows before loading.
    data = (
        proto()
        + short_unicode("builtins")
        + short_unicode("str")
        + b"\x93"
        + short_unicode("os")
        + b"\x85R"
        + short_unicode("system")
        + b"\x93"
        + call_tail()
    )
    findings = findings_of(data)
    assert [f.severity for f in findings if f.rule_id == RULE_UNRESOLVABLE] == [Severity.CRITICAL]
    assert "os.system" not in constructs(findings)


def test_calling_the_result_of_a_call_is_critical() -> None:
    # collections.OrderedDict() is allowlisted; calling what it returned is not.
    data = proto() + global_op("collections", "OrderedDict") + b")R" + call_tail()
    findings = findings_of(data)
    assert [f.severity for f in findings if f.rule_id == RULE_CALL] == [Severity.CRITICAL]


def test_extension_codes_are_unresolvable() -> None:
    for ext in (b"\x82\x01", b"\x83\x01\x02", b"\x84\x01\x02\x03\x04"):
        findings = findings_of(proto(2) + ext + call_tail())
        assert RULE_UNRESOLVABLE in rules(findings)


def test_copyreg_extension_registry_is_dangerous() -> None:
    data = (
        dumps(Reduce(copyreg.add_extension, "os", "system", 240), 3)[:-1]
        + b"0\x82\xf0"
        + call_tail()
    )
    findings = findings_of(data)
    _critical(findings, "copyreg.add_extension")
    assert RULE_UNRESOLVABLE in rules(findings)


def test_copyreg_reconstructor_with_a_dangerous_class() -> None:
    findings = findings_of(dumps(Reduce(copyreg._reconstructor, os.system, object, None), 2))
    _critical(findings, SYSTEM)
    assert "copyreg._reconstructor" not in constructs(findings)


class _ReduceEx:
    def __reduce_ex__(self, protocol: object) -> tuple[object, tuple[str]]:
        return os.system, ("true",)


def test_reduce_ex_payloads() -> None:
    for protocol in (0, 2, 5):
        _critical(findings_of(dumps(_ReduceEx(), protocol)), SYSTEM)


def test_build_on_an_imported_object_is_attribute_injection() -> None:
    # modelscan #85: BUILD's slot state sets attributes on numpy.prod itself, and a later
    # dotted import reads them back. Both the mutation and the dotted import are reported.
    data = (
        proto(2)
        + global_op("collections", "OrderedDict")
        + b"N}"
        + unicode0("a")
        + unicode0("os")
        + b"s\x86b0"
        + global_op("collections", "OrderedDict.a")
        + b"."
    )
    findings = findings_of(data)
    mutation = [f for f in findings if f.rule_id == RULE_MUTATION]
    assert mutation and mutation[0].severity is Severity.CRITICAL
    assert "collections.OrderedDict.a" in constructs(findings)


def test_setitem_on_an_imported_object() -> None:
    data = (
        proto(2) + global_op("collections", "OrderedDict") + unicode0("k") + unicode0("v") + b"s."
    )
    assert RULE_MUTATION in rules(findings_of(data))


# -- nested, hidden and broken streams --------------------------------------------------------


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_nested_pickle_in_pickle_loads_is_scanned(protocol: int) -> None:
    inner = dumps(Reduce(os.system, "true"), 4)
    data = dumps(Reduce(pickle.loads, inner), protocol)
    findings = findings_of(data)
    loader = "pickle.loads" if protocol < 3 else "_pickle.loads"
    _critical(findings, loader)
    nested = [f for f in findings if f.rule_id == RULE_NESTED]
    assert nested and nested[0].severity is Severity.CRITICAL
    inner_hit = [f for f in findings if f.construct == SYSTEM]
    assert inner_hit and inner_hit[0].offset is not None
    if protocol >= 3:  # raw bytes: inner offsets are file offsets
        assert data[inner_hit[0].offset : inner_hit[0].offset + 1] in (b"\x8c", b"\x93")


def test_payload_after_a_benign_pickle() -> None:
    data = dumps({"weights": [1, 2, 3]}) + dumps(Reduce(os.system, "true"))
    findings = findings_of(data)
    _critical(findings, SYSTEM)
    assert next(f for f in findings if f.construct == SYSTEM).offset > len(
        dumps({"weights": [1, 2, 3]})
    )


def test_payload_before_garbage_is_reported_with_the_break() -> None:
    payload = dumps(Reduce(os.system, "true"))
    for broken in (payload[:-1] + b"\xff\xfe", payload[:-3], payload + b"\x00garbage"):
        findings = findings_of(broken)
        _critical(findings, SYSTEM)
        if broken != payload + b"\x00garbage":
            malformed = [f for f in findings if f.rule_id == RULE_MALFORMED]
            assert malformed and malformed[0].severity in (Severity.MEDIUM, Severity.HIGH)


def test_garbage_inside_a_benign_pickle_fails_closed() -> None:
    findings = findings_of(dumps([1, 2, 3])[:-2] + b"\xfa\xfb\xfc")
    assert blocking(findings)
    assert RULE_MALFORMED in rules(findings)


def test_persistent_ids_in_plain_pickles_are_noted() -> None:
    for data in (proto(2) + short_unicode("weird/../id") + b"Q.", b"Pstorage-0\n."):
        findings = findings_of(data)
        assert [(f.rule_id, f.severity) for f in findings] == [(RULE_PERSISTENT, Severity.INFO)]


def test_unlisted_global_tells_how_to_allow_it() -> None:
    findings = findings_of(proto(2) + global_op("mycompany.layers", "Custom") + b")R.")
    unlisted = [f for f in findings if f.rule_id == RULE_UNLISTED]
    assert unlisted and unlisted[0].severity is Severity.HIGH
    assert "signoff policy allowlist add mycompany.layers.Custom" in unlisted[0].detail


# -- the known-dangerous table, callable by callable ------------------------------------------

CRITICAL_GLOBALS = [
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "compile"),
    ("builtins", "__import__"),
    ("builtins", "open"),
    ("builtins", "breakpoint"),
    ("builtins", "input"),
    ("builtins", "help"),
    ("os", "system"),
    ("os", "popen"),
    ("os", "execv"),
    ("os", "spawnl"),
    ("os", "remove"),
    ("posix", "system"),
    ("nt", "system"),
    ("subprocess", "Popen"),
    ("subprocess", "run"),
    ("subprocess", "check_output"),
    ("pty", "spawn"),
    ("shutil", "rmtree"),
    ("socket", "create_connection"),
    ("urllib.request", "urlopen"),
    ("requests", "get"),
    ("requests.api", "post"),
    ("http.client", "HTTPSConnection"),
    ("ftplib", "FTP"),
    ("smtplib", "SMTP"),
    ("webbrowser", "open"),
    ("importlib", "import_module"),
    ("pkgutil", "resolve_name"),
    ("runpy", "_run_code"),
    ("code", "InteractiveInterpreter"),
    ("codeop", "compile_command"),
    ("pdb", "run"),
    ("sys", "exit"),
    ("sys", "modules"),
    ("ctypes", "CDLL"),
    ("types", "CodeType"),
    ("types", "FunctionType"),
    ("marshal", "loads"),
    ("pickle", "loads"),
    ("pickle", "load"),
    ("pickle", "_loads"),
    ("_pickle", "loads"),
    ("dill", "loads"),
    ("cloudpickle", "loads"),
    ("joblib", "load"),
    ("numpy", "load"),
    ("torch", "load"),
    ("torch.jit", "load"),
    ("torch.serialization", "load"),
    ("torch.storage", "_load_from_bytes"),
    ("yaml", "load"),
    ("yaml", "unsafe_load"),
    ("asyncio.subprocess", "create_subprocess_shell"),
    ("multiprocessing", "Process"),
    ("signal", "signal"),
    ("tempfile", "mkstemp"),
    ("timeit", "timeit"),
    ("ensurepip", "_run_pip"),
    ("mailcap", "findmatch"),
    ("imaplib", "IMAP4_stream"),
    ("numpy.testing._private.utils", "runstring"),
    ("torch._inductor.codecache", "compile_file"),
    ("torch.fx.graph_module", "reduce_graph_module"),
    ("pydoc", "locate"),
    ("venv", "create"),
    ("cProfile", "run"),
    ("profile", "Profile.run"),
    ("doctest", "debug_script"),
    ("trace", "Trace.run"),
    ("idlelib.pyshell", "ModifiedInterpreter"),
    ("distutils.file_util", "write_file"),
    ("ssl", "get_server_certificate"),
    ("aiohttp", "request"),
    ("picklescan.scanner", "scan_pickle_bytes"),
    ("fickling", "load"),
    ("logging.config", "listen"),
    ("copyreg", "add_extension"),
    ("numpy.f2py", "compile"),
    ("torch.hub", "load"),
    ("torch.utils.cpp_extension", "load_inline"),
    ("pandas", "read_pickle"),
    ("pandas", "eval"),
    ("numpy.ctypeslib", "load_library"),
    ("rlcompleter", "Completer"),
    ("pip", "main"),
    ("__builtin__", "execfile"),
    ("cPickle", "loads"),
]
HIGH_GLOBALS = [
    ("builtins", "setattr"),
    ("builtins", "delattr"),
    ("functools", "partial"),
    ("functools", "reduce"),
    ("operator", "attrgetter"),
    ("operator", "methodcaller"),
    ("operator", "itemgetter"),
    ("_operator", "attrgetter"),
    ("itertools", "starmap"),
]


@pytest.mark.parametrize(("module", "name"), CRITICAL_GLOBALS)
def test_known_dangerous_globals_are_critical(module: str, name: str) -> None:
    for data in (
        proto(2) + global_op(module, name) + b".",
        proto(4) + short_unicode(module) + short_unicode(name) + b"\x93.",
    ):
        findings = findings_of(data)
        assert [(f.rule_id, f.severity) for f in findings] == [(RULE_DANGEROUS, Severity.CRITICAL)]


@pytest.mark.parametrize(("module", "name"), HIGH_GLOBALS)
def test_gadgets_are_high(module: str, name: str) -> None:
    findings = findings_of(proto(2) + global_op(module, name) + b".")
    assert [(f.rule_id, f.severity) for f in findings] == [(RULE_DANGEROUS, Severity.HIGH)]


def test_getattr_used_as_a_value_is_a_gadget() -> None:
    findings = findings_of(proto(2) + global_op("builtins", "getattr") + b".")
    assert [(f.rule_id, f.severity, f.construct) for f in findings] == [
        (RULE_DANGEROUS, Severity.HIGH, "builtins.getattr")
    ]


# -- nothing ever runs ------------------------------------------------------------------------


def test_canary_never_created(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    for name, data in canary_payloads(canary).items():
        for variant in (data, data[:-1], data + data, b"\x80\x04" + data[2:]):
            findings = findings_of(variant)
            assert blocking(findings), name
    assert not canary.exists()
