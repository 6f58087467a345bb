"""GGUF: bounded parse of the header, metadata and tensor infos, and chat-template analysis.

GGUF carries no pickle, but two things in it have hurt loaders: counts and lengths crafted to
overflow C parsers (llama.cpp's GGUF reader has had several such bugs), and chat templates, which
llama-cpp-python rendered with an unsandboxed Jinja environment (CVE-2024-34359): a template that
reaches ``__globals__`` or ``os`` runs code when the model is loaded and chatted with. Templates
are analysed as text, and parsed (never rendered) with Jinja's own parser when jinja2 is
installed. Tensor data is never read.
"""

from __future__ import annotations

import functools
import importlib
import io
import math
import re
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from signoff.scanner.findings import ScanFinding, Severity
from signoff.scanner.limits import Limits

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_TENSORS = 1 << 20
MAX_KV = 1 << 20
MAX_ARRAY_DEPTH = 4
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_TEMPLATE_BYTES = 1 << 20
"""Chat templates longer than this are not analysed (and reported): real ones are a few KiB."""
DEFAULT_ALIGNMENT = 32
_MAX_REPORTED = 20

# Value types: fixed-size ones map to their struct code.
_STRING, _ARRAY = 8, 9
_FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

GGML_BLOCKS: dict[int, tuple[int, int]] = {
    # ggml type -> (elements per block, bytes per block); unknown types are reported, not guessed.
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 40),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
    40: (64, 36),
    41: (128, 18),
}


class _Stop(Exception):
    """Parsing cannot go on; the finding explaining why has been recorded."""


@dataclass
class _Reader:
    stream: BinaryIO
    size: int
    endian: str = "<"
    pos: int = 0

    def read(self, count: int) -> bytes:
        if count > self.size - self.pos:
            raise EOFError(f"{count} bytes at offset {self.pos} run past the end of the stream")
        data = self.stream.read(count)
        if len(data) != count:
            raise EOFError(f"stream ended at offset {self.pos + len(data)}")
        self.pos += count
        return data

    def skip(self, count: int) -> None:
        if count > self.size - self.pos:
            raise EOFError(f"{count} bytes at offset {self.pos} run past the end of the stream")
        if self.stream.seekable():
            self.stream.seek(count, 1)
            self.pos += count
            return
        while count:
            step = min(count, 1 << 20)
            self.read(step)
            count -= step

    def unpack(self, code: str) -> Any:
        layout = _layout(self.endian + code)
        return layout.unpack(self.read(layout.size))[0]


@functools.cache
def _layout(fmt: str) -> struct.Struct:
    """A compiled struct layout (the reader unpacks a few formats thousands of times)."""
    return struct.Struct(fmt)


class _Scan:
    def __init__(self, file: str, member: str | None, limits: Limits) -> None:
        self.file = file
        self.member = member
        self.limits = limits
        self.findings: list[ScanFinding] = []

    def add(
        self, rule: str, severity: Severity, title: str, detail: str, offset: int | None = None
    ) -> None:
        self.findings.append(
            ScanFinding(f"gguf/{rule}", severity, title, detail, self.file, self.member, offset)
        )

    def stop(self, rule: str, severity: Severity, title: str, detail: str, offset: int) -> _Stop:
        self.add(rule, severity, title, detail, offset)
        return _Stop()


def scan_gguf(
    stream: BinaryIO, size: int, *, file: str, member: str | None, limits: Limits
) -> list[ScanFinding]:
    """Findings for a GGUF stream of ``size`` bytes, read from its start."""
    scan = _Scan(file, member, limits)
    reader = _Reader(stream, size)
    try:
        _parse(reader, scan)
    except _Stop:
        pass
    except EOFError as exc:
        scan.add("truncated", Severity.MEDIUM, "Truncated GGUF file", str(exc), reader.pos)
    return scan.findings


def _parse(reader: _Reader, scan: _Scan) -> None:
    if reader.read(4) != MAGIC:
        raise scan.stop("malformed", Severity.MEDIUM, "Not a GGUF file", "bad magic", 0)
    raw_version = reader.read(4)
    version = struct.unpack("<I", raw_version)[0]
    if version not in SUPPORTED_VERSIONS and struct.unpack(">I", raw_version)[0] in (2, 3):
        reader.endian = ">"
        version = struct.unpack(">I", raw_version)[0]
        scan.add("big-endian", Severity.INFO, "Big-endian GGUF", "parsed as big-endian", 4)
    if version not in SUPPORTED_VERSIONS:
        raise scan.stop(
            "unsupported-version",
            Severity.MEDIUM,
            "Unsupported GGUF version",
            f"version {version} is not analysed (supported: 2, 3)",
            4,
        )
    tensor_count = reader.unpack("Q")
    kv_count = reader.unpack("Q")
    if tensor_count > MAX_TENSORS or kv_count > MAX_KV:
        raise scan.stop(
            "implausible-counts",
            Severity.HIGH,
            "Implausible GGUF counts",
            f"{tensor_count} tensors and {kv_count} metadata entries (limits {MAX_TENSORS}, "
            f"{MAX_KV}): crafted counts have overflowed GGUF loaders",
            8,
        )
    alignment = _parse_metadata(reader, scan, kv_count)
    _parse_tensors(reader, scan, tensor_count, alignment)


def _parse_metadata(reader: _Reader, scan: _Scan, kv_count: int) -> int:
    """Walk the key/value pairs; returns the tensor data alignment."""
    keys: set[str] = set()
    alignment = DEFAULT_ALIGNMENT
    start = reader.pos
    for _ in range(kv_count):
        offset = reader.pos
        key = _string(reader, scan, "key")
        if key in keys:
            scan.add("duplicate-key", Severity.MEDIUM, "Duplicate GGUF key", repr(key), offset)
        keys.add(key)
        value_type = reader.unpack("I")
        if key.startswith("tokenizer.chat_template") and value_type == _STRING:
            _template_value(reader, scan, key)
        else:
            value = _value(reader, scan, value_type, 0)
            if key == "general.alignment":
                alignment = _alignment(value, scan, offset)
        if reader.pos - start > scan.limits.max_header_bytes:
            raise scan.stop(
                "metadata-too-large",
                Severity.HIGH,
                "GGUF metadata over the limit",
                f"metadata exceeds {scan.limits.max_header_bytes} bytes",
                offset,
            )
    return alignment


def _alignment(value: Any, scan: _Scan, offset: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0 == value & (value - 1):
        return value
    scan.add("bad-alignment", Severity.MEDIUM, "Invalid GGUF alignment", repr(value), offset)
    return DEFAULT_ALIGNMENT


def _string(reader: _Reader, scan: _Scan, what: str) -> str:
    offset = reader.pos
    length = reader.unpack("Q")
    if length > scan.limits.max_header_bytes:
        raise scan.stop(
            "string-too-long",
            Severity.HIGH,
            "GGUF string length over the limit",
            f"{what} of {length} bytes",
            offset,
        )
    raw = reader.read(length)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        scan.add("bad-string", Severity.LOW, "GGUF string is not UTF-8", what, offset)
        return raw.decode("utf-8", "replace")


def _value(reader: _Reader, scan: _Scan, value_type: int, depth: int) -> Any:
    """Read (and mostly discard) one value; returns scalars, ``None`` for strings and arrays."""
    if value_type in _FIXED:
        return reader.unpack(_FIXED[value_type])
    if value_type == _STRING:
        length = reader.unpack("Q")
        reader.skip(length)
        return None
    if value_type == _ARRAY and depth < MAX_ARRAY_DEPTH:
        offset = reader.pos
        item_type = reader.unpack("I")
        count = reader.unpack("Q")
        if item_type in _FIXED:
            reader.skip(count * struct.calcsize(_FIXED[item_type]))
            return None
        if count > reader.size - reader.pos:
            raise scan.stop(
                "implausible-counts",
                Severity.HIGH,
                "GGUF array longer than the file",
                f"{count} elements",
                offset,
            )
        if item_type == _STRING and reader.stream.seekable():
            _skip_strings(reader, count)  # vocabularies: 100k+ strings, read in blocks
            return None
        for _ in range(count):
            _value(reader, scan, item_type, depth + 1)
        return None
    raise scan.stop(
        "bad-value-type",
        Severity.MEDIUM,
        "Invalid GGUF value type",
        f"type {value_type}" + (" (arrays nested too deeply)" if value_type == _ARRAY else ""),
        reader.pos - 4,
    )


def _skip_strings(reader: _Reader, count: int) -> None:
    """Step over ``count`` length-prefixed strings exactly as ``_value`` would one by one (same
    positions and errors), reading the stream in blocks."""
    length_at = struct.Struct(reader.endian + "Q").unpack_from
    buf = b""
    i = 0
    for _ in range(count):
        if len(buf) - i < 8:
            _give_back(reader, len(buf) - i)
            buf = reader.read(min(_STRING_BLOCK, reader.size - reader.pos))
            i = 0
            if len(buf) < 8:
                _give_back(reader, len(buf))
                reader.unpack("Q")  # raises the EOFError reading it alone would
        (length,) = length_at(buf, i)
        if i + 8 + length > len(buf):
            _give_back(reader, len(buf) - i - 8)
            reader.skip(length)  # seeks, or raises the EOFError skipping it alone would
            buf = b""
            i = 0
        else:
            i += 8 + length
    _give_back(reader, len(buf) - i)


def _give_back(reader: _Reader, count: int) -> None:
    if count > 0:
        reader.stream.seek(-count, io.SEEK_CUR)
        reader.pos -= count


_STRING_BLOCK = 1 << 16


def _template_value(reader: _Reader, scan: _Scan, key: str) -> None:
    offset = reader.pos
    length = reader.unpack("Q")
    if length > MAX_TEMPLATE_BYTES:
        scan.add(
            "template-too-large",
            Severity.HIGH,
            "Chat template too large to analyse",
            f"{key} is {length} bytes (limit {MAX_TEMPLATE_BYTES})",
            offset,
        )
        reader.skip(length)
        return
    text = reader.read(length).decode("utf-8", "replace")
    for severity, reason, excerpt in analyse_chat_template(text):
        scan.add(
            "chat-template-injection",
            severity,
            "Chat template can execute code (Jinja template injection)",
            f"{key}: {reason}: {excerpt!r}",
            offset,
        )


def _parse_tensors(reader: _Reader, scan: _Scan, count: int, alignment: int) -> None:
    infos: list[tuple[str, int, int, int]] = []  # name, offset, size in bytes (-1 unknown), pos
    problems = 0
    for _ in range(count):
        pos = reader.pos
        name = _string(reader, scan, "tensor name")
        n_dims = reader.unpack("I")
        if n_dims > MAX_DIMS:
            raise scan.stop(
                "bad-tensor", Severity.HIGH, "Invalid GGUF tensor", f"{name}: {n_dims} dims", pos
            )
        dims = [reader.unpack("Q") for _ in range(n_dims)]
        ggml_type = reader.unpack("I")
        offset = reader.unpack("Q")
        nbytes = _tensor_bytes(dims, ggml_type)
        problem = None
        if ggml_type not in GGML_BLOCKS:
            scan.add("unknown-type", Severity.LOW, "Unknown GGML type", f"{name}: {ggml_type}", pos)
        elif nbytes is None:
            problem = f"{name}: dims {dims} do not fit type {ggml_type}"
        if offset % alignment:
            problem = f"{name}: offset {offset} not aligned to {alignment}"
        if problem is not None:
            problems += 1
            if problems <= _MAX_REPORTED:
                scan.add("bad-tensor", Severity.MEDIUM, "Invalid GGUF tensor", problem, pos)
        infos.append((name, offset, -1 if nbytes is None else nbytes, pos))
    data_start = -(-reader.pos // alignment) * alignment
    data_size = reader.size - data_start
    for name, offset, nbytes, pos in infos:
        end = offset + max(nbytes, 0)
        if end > data_size:
            problems += 1
            if problems <= _MAX_REPORTED:
                scan.add(
                    "tensor-out-of-file",
                    Severity.HIGH,
                    "GGUF tensor data outside the file",
                    f"{name}: bytes {offset}..{end} of a {max(data_size, 0)}-byte data area",
                    pos,
                )


def _tensor_bytes(dims: list[int], ggml_type: int) -> int | None:
    block = GGML_BLOCKS.get(ggml_type)
    if block is None:
        return None
    elements, nbytes = block
    if dims and dims[0] % elements:
        return None
    total = math.prod(dims)
    if total >= 1 << 63:
        return None
    return total // elements * nbytes


# --- Chat templates -------------------------------------------------------------------------

_CODE = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.S)
# Each rule: severity, reason, pattern, whether it applies to code with string literals removed.
_RULES: tuple[tuple[Severity, str, re.Pattern[str], bool], ...] = (
    (Severity.CRITICAL, "double-underscore (dunder) access", re.compile(r"__"), False),
    (
        Severity.CRITICAL,
        "escaped underscore in a string (obfuscated dunder)",
        re.compile(r"\\(?:x5[fF]|u005[fF]|U0000005[fF]|137|N\{)"),
        False,
    ),
    (
        Severity.CRITICAL,
        "underscore-only string joined into a name (obfuscated dunder)",
        re.compile(r"(['\"])_+\1\s*\*|(['\"])_+\2\s*~\s*(['\"])_"),
        False,
    ),
    (Severity.CRITICAL, "method resolution order (.mro)", re.compile(r"\bmro\b"), True),
    (
        Severity.CRITICAL,
        "reference to a Jinja global that reaches Python globals",
        re.compile(r"\b(?:cycler|joiner|lipsum|self|config|request|url_for)\b"),
        True,
    ),
    (
        Severity.CRITICAL,
        "attribute access on the namespace class",
        re.compile(r"\bnamespace\s*(?:\.|\[|\|)"),
        True,
    ),
    (
        Severity.CRITICAL,
        "module access (os, sys, subprocess, builtins ...)",
        re.compile(
            r"\b(?:os|sys|subprocess|importlib|builtins|posix|nt|pty|shutil|socket)\s*[.\[]"
        ),
        True,
    ),
    (
        Severity.CRITICAL,
        "call of a code-execution function",
        re.compile(
            r"\b(?:popen|eval|exec|execfile|system|import_module|getattr|setattr|compile|"
            r"open|spawn\w*|fork|load_module)\s*\("
        ),
        True,
    ),
    (
        Severity.CRITICAL,
        "template import statement",
        re.compile(r"^[-+\s]*(?:import|from\s+\S+\s+import)\b"),
        True,
    ),
    (
        Severity.HIGH,
        "template include/extends (loads other templates)",
        re.compile(r"^[-+\s]*(?:include|extends)\b"),
        True,
    ),
    (Severity.HIGH, "attr filter (dynamic attribute lookup)", re.compile(r"\|\s*attr\b"), True),
    (
        Severity.HIGH,
        "item name built by concatenation",
        re.compile(r"\[[^\]\[]*~[^\]\[]*\]"),
        False,
    ),
)


def _anywhere(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """A pattern that finds something in any text where ``pattern`` finds something in a part.

    Leading zero-width assertions and optional prefixes are dropped (a match of the rest is
    where a match would be): what is left starts with literal text, which the regex engine
    looks for quickly, where a leading ``\\b`` or ``[-+\\s]*`` is tried at every position.
    An underscore-only string needs a quote followed by an underscore.
    """
    text = pattern.pattern
    if text.startswith(r"""(['\"])_+"""):
        return re.compile(r"""['"]_""")
    for prefix in ("^", r"[-+\s]*", r"\b"):
        text = text.removeprefix(prefix)
    return re.compile(text, pattern.flags)


_ANYWHERE = tuple(_anywhere(pattern).search for _, _, pattern, _ in _RULES)
"""Each rule's pattern, or a looser one, searched in the whole template: a rule that finds
nothing there is not tried on each tag (see :func:`analyse_chat_template`)."""
_GADGET_NAMES = frozenset(
    {"cycler", "joiner", "lipsum", "self", "config", "request", "url_for", "os", "sys"}
)
_CALL_NAMES = frozenset({"eval", "exec", "popen", "system", "getattr", "setattr", "open"})


def analyse_chat_template(text: str) -> list[tuple[Severity, str, str]]:
    """Dangerous constructs in a Jinja chat template as ``(severity, reason, excerpt)``.

    Only the code inside ``{{ }}`` and ``{% %}`` is examined (literal text may say anything).
    Never renders the template. Jinja's parse adds what text rules cannot see, when they found
    nothing critical (a template they found critical is blocked either way).
    """
    found: dict[str, tuple[Severity, str]] = {}
    # A rule that matches nowhere in the whole text matches in no tag's code either (code is a
    # substring; blanking literals only puts quotes, which no rule matches, where they were;
    # rules anchored at the start of a tag's code are looked for unanchored).
    rules = [rule for rule, anywhere in zip(_RULES, _ANYWHERE, strict=True) if anywhere(text)]
    for match in _CODE.finditer(text) if rules else ():
        code = match.group(1) if match.group(1) is not None else match.group(2)
        bare = _STRING_LITERAL.sub("''", code)
        for severity, reason, pattern, on_bare in rules:
            hit = pattern.search(bare if on_bare else code)
            if hit is not None and reason not in found:
                found[reason] = (severity, _excerpt(match.group(0), hit.start()))
    if not any(severity is Severity.CRITICAL for severity, _ in found.values()):
        # The parse looks for what the text rules cannot see; a template they already found
        # critical is condemned either way, and parsing costs more than the rest of the scan.
        for severity, reason, excerpt in _jinja_findings(text):
            found.setdefault(reason, (severity, excerpt))
    return [(severity, reason, excerpt) for reason, (severity, excerpt) in found.items()]


def _excerpt(tag: str, at: int) -> str:
    # ``at`` is an offset in the tag's code (approximate once literals are blanked): good enough
    # to show the construct.
    start = max(0, at - 40)
    return tag[start : at + 100]


def _jinja_findings(text: str) -> list[tuple[Severity, str, str]]:
    """What Jinja's own parser shows, when jinja2 is installed (parsing executes nothing).

    Parsing costs far more than the rest of a GGUF scan, so it is skipped when
    :func:`_parse_can_find` shows that no construct reported below can be in the template.
    """
    jinja = _jinja()
    if jinja is None or not _parse_can_find(text, jinja):
        return []
    try:
        tree = jinja.environment.parse(text)
    except jinja.syntax_error:
        # The loader would refuse the template too; the text rules above still apply.
        return []
    except RecursionError:
        return [(Severity.HIGH, "template nested too deeply to parse", text[:120])]
    nodes = jinja.nodes
    out: list[tuple[Severity, str, str]] = []
    for node in tree.find_all(nodes.Node):
        reason = _node_reason(node, nodes)
        if reason is not None:
            severity, why = reason
            out.append((severity, why, _node_excerpt(text, node)))
    return out


@dataclass(frozen=True)
class _Jinja:
    environment: Any
    nodes: Any
    syntax_error: type[Exception]
    tokens: tuple[re.Pattern[str], ...]
    """Jinja's own token patterns inside tags, in its order: space, float, int, name, string."""
    operator: re.Pattern[str]


@functools.cache
def _jinja() -> _Jinja | None:
    """jinja2, imported and set up once (an Environment is safe to share for parsing)."""
    try:
        jinja2: Any = importlib.import_module("jinja2")
        nodes: Any = importlib.import_module("jinja2.nodes")
        lexer: Any = importlib.import_module("jinja2.lexer")
    except ImportError:
        return None
    return _Jinja(
        environment=jinja2.Environment(extensions=["jinja2.ext.loopcontrols"]),
        nodes=nodes,
        syntax_error=jinja2.TemplateSyntaxError,
        tokens=(
            lexer.whitespace_re,
            lexer.float_re,
            lexer.integer_re,
            lexer.name_re,
            lexer.string_re,
        ),
        operator=lexer.operator_re,
    )


# What the parse reports needs one of these in the text (see _node_reason): a private attribute
# (".", "_"), a string whose value starts with "_" (written, escaped or after a line
# continuation), a name it looks for, or an item subscript holding an operator (checked by
# _computed_item). Deep nesting, which makes the parser recurse too deeply, needs many openers.
_PARSE_TRIGGERS = re.compile(
    r"\.\s*_|['\"]_|\\(?![ntr\\'\"])|\b(?:cycler|joiner|lipsum|self|config|request|url_for|os|sys|"
    r"import|include|extends|attr|eval|exec|popen|getattr|setattr|open)\b|"
    r"\bnamespace[\s)]*\.|\bsystem[\s)]*\("
)
_TRIGGER_WORDS = re.compile(
    r"cycler|joiner|lipsum|self|config|request|url_for|os|sys|import|include|extends|attr|eval|"
    r"exec|popen|getattr|setattr|open|namespace|system"
)
"""Where a word of _PARSE_TRIGGERS may start. Python's regex engine finds these literals fast,
but tries a leading ``\\b`` at every position (twenty times slower on a chat template)."""
_TRIGGER_SIGNS = tuple(re.compile(pattern).search for pattern in (r"\.\s*_", r"\\(?![ntr\\'\"])"))


def _parse_triggered(text: str) -> bool:
    """``_PARSE_TRIGGERS.search(text) is not None``, computed faster."""
    if "'_" in text or '"_' in text or any(search(text) for search in _TRIGGER_SIGNS):
        return True
    # A trigger word starts at a word boundary, so never inside an earlier candidate (all word
    # characters): trying the full pattern at each candidate finds every match there is.
    return any(
        _PARSE_TRIGGERS.match(text, found.start()) for found in _TRIGGER_WORDS.finditer(text)
    )


_ITEM_OPERATORS = frozenset({"~", "+", "*", "**", "%", "|"})
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_MAX_UNPARSED_OPENERS = 48
_MAX_UNPARSED_BLOCKS = 128


def _parse_can_find(text: str, jinja: _Jinja) -> bool:
    """False only when Jinja's parse of ``text`` cannot yield a finding (conservative)."""
    if _parse_triggered(text):
        return True
    openers = text.count("(") + text.count("[") + text.count("{")
    tags = text.count("{%") + text.count("{{") + text.count("{#")
    if openers - tags > _MAX_UNPARSED_OPENERS or text.count("{%") > _MAX_UNPARSED_BLOCKS:
        return True
    at = text.find("[")
    while at >= 0:
        if _computed_item(text, at + 1, jinja):
            return True
        at = text.find("[", at + 1)
    return False


def _computed_item(text: str, pos: int, jinja: _Jinja) -> bool:
    """Whether the subscript opened just before ``pos`` may hold an operator (tokenised as
    Jinja does inside a tag; anything unexpected counts as yes)."""
    expected = ["]"]
    end = len(text)
    while pos < end:
        for pattern in jinja.tokens:
            match = pattern.match(text, pos)
            if match is not None and match.end() > pos:
                pos = match.end()
                break
        else:
            match = jinja.operator.match(text, pos)
            if match is None:
                return True
            pos = match.end()
            token = match.group()
            if token in _ITEM_OPERATORS:
                return True
            if token in _CLOSERS:
                expected.append(_CLOSERS[token])
            elif token in (")", "]", "}"):
                if expected.pop() != token:
                    return True
                if not expected:
                    return False
    return True


def _node_reason(node: Any, nodes: Any) -> tuple[Severity, str] | None:
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return Severity.CRITICAL, "private attribute access"
    if isinstance(node, nodes.Getitem) and _is_private_name(node.arg, nodes):
        return Severity.CRITICAL, "private attribute access"
    if isinstance(node, nodes.Getitem) and isinstance(
        node.arg, nodes.Concat | nodes.Add | nodes.Mul | nodes.Mod | nodes.Filter
    ):
        return Severity.HIGH, "item name computed at render time"
    if isinstance(node, nodes.Filter) and node.name == "attr":
        return Severity.HIGH, "attr filter (dynamic attribute lookup)"
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name in _GADGET_NAMES:
        return Severity.CRITICAL, "reference to a Jinja global that reaches Python globals"
    if isinstance(node, nodes.Getattr) and getattr(node.node, "name", None) == "namespace":
        return Severity.CRITICAL, "attribute access on the namespace class"
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name | nodes.Getattr):
        called = node.node.name if isinstance(node.node, nodes.Name) else node.node.attr
        if called in _CALL_NAMES:
            return Severity.CRITICAL, "call of a code-execution function"
    if isinstance(node, nodes.Import | nodes.FromImport):
        return Severity.CRITICAL, "template import statement"
    if isinstance(node, nodes.Include | nodes.Extends):
        return Severity.HIGH, "template include/extends (loads other templates)"
    return None


def _is_private_name(arg: Any, nodes: Any) -> bool:
    return isinstance(arg, nodes.Const) and isinstance(arg.value, str) and arg.value.startswith("_")


def _node_excerpt(text: str, node: Any) -> str:
    lineno = getattr(node, "lineno", 1) or 1
    lines = text.splitlines()
    return lines[lineno - 1][:120] if 0 < lineno <= len(lines) else ""
