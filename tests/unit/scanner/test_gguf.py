"""GGUF: bounded header parsing and chat-template injection (CVE-2024-34359)."""

from __future__ import annotations

import importlib
import io
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.scanner import gguf_scan
from signoff.scanner.findings import BLOCKING, ScanFinding, Severity
from signoff.scanner.gguf_scan import analyse_chat_template, scan_gguf
from signoff.scanner.limits import Limits

# The payload published with the llama-cpp-python advisory (GHSA-56xg-wfcc-g829).
ADVISORY_TEMPLATE = (
    '{% for x in ().__class__.__base__.__subclasses__() %}{% if "warning" in x.__name__ %}'
    "{{x()._module.__builtins__['__import__']('os').popen(\"touch /tmp/retr0reg\")}}"
    "{%endif%}{% endfor %}"
)
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)
LLAMA2_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}"
    "{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}"
)
QWEN_TEMPLATE = (
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}"
    "{%- for message in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}"
    '{%- if ns.multi_step_tool and message.role == "user" %}'
    "{%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}{%- endif %}"
    "{%- endfor %}{%- if tools %}{{- tools | tojson }}{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def _has_jinja() -> bool:
    try:
        importlib.import_module("jinja2")
    except ImportError:
        return False
    return True


HAS_JINJA = _has_jinja()


def gstr(value: bytes) -> bytes:
    return struct.pack("<Q", len(value)) + value


def kv_str(key: str, value: str) -> bytes:
    return gstr(key.encode()) + struct.pack("<I", 8) + gstr(value.encode())


def kv_u32(key: str, value: int) -> bytes:
    return gstr(key.encode()) + struct.pack("<II", 4, value)


def tensor_info(name: str, dims: list[int], ggml_type: int, offset: int) -> bytes:
    packed = struct.pack(f"<I{len(dims)}Q", len(dims), *dims)
    return gstr(name.encode()) + packed + struct.pack("<IQ", ggml_type, offset)


def gguf(
    kvs: list[bytes],
    tensors: list[bytes] | None = None,
    data: bytes = b"",
    *,
    version: int = 3,
    counts: tuple[int, int] | None = None,
) -> bytes:
    tensors = tensors or []
    n_tensors, n_kv = counts or (len(tensors), len(kvs))
    body = b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv) + b"".join(kvs)
    body += b"".join(tensors)
    body += b"\x00" * (-len(body) % 32)
    return body + data


@pytest.fixture(params=["with-jinja-parser", "text-rules-only"])
def parser_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run template tests with Jinja's parser (when installed) and with the text rules alone."""
    if request.param == "with-jinja-parser" and not HAS_JINJA:
        pytest.skip("jinja2 not installed")
    if request.param == "text-rules-only":
        monkeypatch.setattr(gguf_scan, "_jinja_findings", lambda text: [])
    return str(request.param)


def scan(data: bytes, limits: Limits | None = None) -> list[ScanFinding]:
    return scan_gguf(
        io.BytesIO(data), len(data), file="m.gguf", member=None, limits=limits or Limits()
    )


def rules(findings: list[ScanFinding]) -> set[str]:
    return {f.rule_id for f in findings}


def written_by_gguf(tmp_path: Path, template: str | None) -> bytes:
    writer_module = pytest.importorskip("gguf")
    path = tmp_path / "m.gguf"
    writer = writer_module.GGUFWriter(str(path), "llama")
    writer.add_context_length(4096)
    writer.add_token_list(["<s>", "</s>", "hello"])
    writer.add_token_scores([0.0, 0.0, -1.5])
    if template is not None:
        writer.add_chat_template(template)
    writer.add_tensor("token_embd.weight", np.zeros((3, 32), np.float32))
    writer.add_tensor("output.weight", np.ones((2, 64), np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


@pytest.mark.parametrize("template", [LLAMA3_TEMPLATE, LLAMA2_TEMPLATE, QWEN_TEMPLATE, None])
def test_real_gguf_with_clean_template_does_not_alarm(
    tmp_path: Path, template: str | None, parser_mode: str
) -> None:
    assert scan(written_by_gguf(tmp_path, template)) == []


def test_advisory_template_is_critical(tmp_path: Path, parser_mode: str) -> None:
    findings = scan(written_by_gguf(tmp_path, ADVISORY_TEMPLATE))
    assert findings
    assert all(f.rule_id == "gguf/chat-template-injection" for f in findings)
    assert any(f.severity is Severity.CRITICAL for f in findings)
    assert any("__class__" in f.detail or "__subclasses__" in f.detail for f in findings)


def test_named_templates_are_analysed_too() -> None:
    data = gguf(
        [
            kv_str("tokenizer.chat_template", LLAMA3_TEMPLATE),
            kv_str("tokenizer.chat_template.tool_use", ADVISORY_TEMPLATE),
        ]
    )
    findings = scan(data)
    assert findings and all("tokenizer.chat_template.tool_use" in f.detail for f in findings)


@pytest.mark.parametrize(
    "template",
    [
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
        "{% set n = '_'*2 ~ 'class' ~ '_'*2 %}{{ ()|attr(n) }}",
        "{{ ().__class__.mro()[1] }}",
        "{{ request.application }}",
        "{{ config.items() }}",
        "{% import 'macros' as m %}{{ m.x() }}",
        "{{ x.os.system('id') }}",
        "{{ eval('1+1') }}",
    ],
)
def test_injection_constructs_are_blocking(template: str, parser_mode: str) -> None:
    found = analyse_chat_template(template)
    assert found, template
    assert any(severity in BLOCKING for severity, _, _ in found)


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'The system (you) must not call os functions or eval anything.' }}",
        "Say __init__ and self and os.popen in plain text, outside any tag.",
        "{{ message['content'].split('_')|join(' ') }}",
        "{% for m in messages %}{{ m.role ~ ': ' ~ m.content }}{% endfor %}",
    ],
)
def test_benign_look_alikes_do_not_alarm(template: str, parser_mode: str) -> None:
    assert analyse_chat_template(template) == []


@pytest.mark.skipif(not HAS_JINJA, reason="jinja2 not installed")
def test_jinja_parser_adds_ast_findings() -> None:
    found = analyse_chat_template("{{ x[('_' ~ '_cla') ~ 'ss__'] }}")
    assert any(severity in BLOCKING for severity, _, _ in found)


def test_template_too_large_is_not_analysed_but_reported() -> None:
    findings = scan(gguf([kv_str("tokenizer.chat_template", "x" * (1 << 20 + 1))]))
    assert rules(findings) == {"gguf/template-too-large"}
    assert findings[0].severity is Severity.HIGH


def test_implausible_counts() -> None:
    findings = scan(gguf([], counts=(0, 1 << 40)))
    assert rules(findings) == {"gguf/implausible-counts"}
    assert findings[0].severity is Severity.HIGH
    assert rules(scan(gguf([], counts=(1 << 33, 0)))) == {"gguf/implausible-counts"}


def test_string_length_over_the_limit() -> None:
    data = gguf([struct.pack("<Q", 1 << 50) + b"key"])
    assert rules(scan(data)) == {"gguf/string-too-long"}


def test_array_longer_than_file() -> None:
    array = gstr(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 1 << 40)
    assert rules(scan(gguf([array]))) == {"gguf/implausible-counts"}


def test_nested_arrays_and_bad_types() -> None:
    deep = gstr(b"k") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 6
    assert "gguf/bad-value-type" in rules(scan(gguf([deep])))
    bad = gstr(b"k") + struct.pack("<I", 77)
    assert rules(scan(gguf([bad]))) == {"gguf/bad-value-type"}


def test_arrays_of_strings_and_numbers_are_walked() -> None:
    strings = gstr(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 3)
    strings += gstr(b"a") + gstr(b"bb") + gstr(b"ccc")
    floats = gstr(b"tokenizer.ggml.scores") + struct.pack("<IIQ3f", 9, 6, 3, 0.0, 1.0, 2.0)
    assert scan(gguf([strings, floats, kv_u32("general.alignment", 64)])) == []


def test_truncated_and_bad_versions() -> None:
    full = gguf([kv_str("general.name", "model")])
    assert rules(scan(full[:30])) == {"gguf/truncated"}
    assert rules(scan(gguf([], version=1))) == {"gguf/unsupported-version"}
    assert rules(scan(gguf([], version=99))) == {"gguf/unsupported-version"}
    assert rules(scan(b"GGUX" + full[4:])) == {"gguf/malformed"}


def test_big_endian_files_are_parsed() -> None:
    kv = struct.pack(">Q", 1) + b"k" + struct.pack(">IQ", 8, 2) + b"ok"
    data = b"GGUF" + struct.pack(">IQQ", 3, 0, 1) + kv
    assert rules(scan(data)) == {"gguf/big-endian"}


def test_duplicate_keys_and_bad_alignment() -> None:
    data = gguf([kv_str("general.name", "a"), kv_str("general.name", "b")])
    assert rules(scan(data)) == {"gguf/duplicate-key"}
    assert rules(scan(gguf([kv_u32("general.alignment", 3)]))) == {"gguf/bad-alignment"}


def test_tensor_checks() -> None:
    ok = tensor_info("w", [32, 2], 0, 0)
    assert scan(gguf([], [ok], b"\x00" * 256)) == []
    outside = tensor_info("w", [32, 2], 0, 1 << 30)
    assert rules(scan(gguf([], [outside], b"\x00" * 256))) == {"gguf/tensor-out-of-file"}
    misaligned = tensor_info("w", [32, 1], 0, 4)
    assert rules(scan(gguf([], [misaligned], b"\x00" * 256))) == {"gguf/bad-tensor"}
    blocks = tensor_info("q", [33, 1], 2, 0)  # Q4_0 rows must be multiples of 32
    assert rules(scan(gguf([], [blocks], b"\x00" * 64))) == {"gguf/bad-tensor"}
    unknown = tensor_info("x", [4], 250, 0)
    assert rules(scan(gguf([], [unknown], b"\x00" * 64))) == {"gguf/unknown-type"}
    too_many_dims = tensor_info("x", [1, 1, 1, 1, 1], 0, 0)
    assert rules(scan(gguf([], [too_many_dims], b"\x00" * 64))) == {"gguf/bad-tensor"}


def _valid_sample() -> bytes:
    return gguf(
        [
            kv_str("general.name", "m"),
            kv_str("tokenizer.chat_template", LLAMA3_TEMPLATE),
            kv_u32("general.alignment", 32),
        ],
        [tensor_info("w", [32, 2], 0, 0)],
        b"\x00" * 256,
    )


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 5000),
)
def test_fuzz_mutated_headers_never_raise(edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_valid_sample())
    for position, value in edits:
        data[position % len(data)] = value
    started = time.monotonic()
    scan(bytes(data[:cut]))
    assert time.monotonic() - started < 2


# --- The parse is skipped only when it cannot find anything -------------------------------------

_PIECES = [
    "{{ ", " }}", "{% ", " %}", "{% set n = ", "{% for m in messages %}", "{% endfor %}",
    "x", "message", "messages", "loop.index0", "m", ".", ". ", "._x", ".__class__", "[", "]",
    "(", ")", "'role'", "'_'", "'__cla'", "'ss__'", "'\\x5f'", "'\\n'", "'[INST]'", "']'",
    " ~ ", " + ", " * 2", " % ", "|trim", "|attr", "|format(95)", " - 1", ":", ",", "0", "1",
    "os", "self", "namespace", "ns", "system", "open", "import", "'a'", "\"_b\"", "\\\n",
    "{{ x[", "{{ (", "}", "{", "-", "{#", "#}", "mro", "lipsum", " ",
]  # fmt: skip


@pytest.mark.skipif(not HAS_JINJA, reason="jinja2 not installed")
@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=24))
def test_precheck_never_hides_a_parse_finding(pieces: list[str]) -> None:
    text = "".join(pieces)
    jinja = gguf_scan._jinja()
    assert jinja is not None
    if gguf_scan._parse_can_find(text, jinja):
        return
    try:
        tree = jinja.environment.parse(text)
    except jinja.syntax_error:
        return
    found = [gguf_scan._node_reason(node, jinja.nodes) for node in tree.find_all(jinja.nodes.Node)]
    assert not any(found), (text, found)


@pytest.mark.skipif(not HAS_JINJA, reason="jinja2 not installed")
@pytest.mark.parametrize(
    "template",
    [
        "{{ x[('_' ~ '_cla') ~ 'ss__'] }}",
        "{{ x[(y|string)[4] ~ 'class'] }}",
        "{{ x[(']') ~ ('%c%cclass%c%c'|format(95,95,95,95))] }}",
        "{{ x['%c%cclass%c%c'|format(95,95,95,95)] }}",
        "{{ x . \n _y }}",
        "{{ x['\\x5f\\x5fclass\\x5f\\x5f'] }}",
        "{{ x['' '_y'] }}",
        "{{ (system)('id') }}",
        "{{ (namespace).x }}",
        "(" * 80 + "1" + ")" * 80,
    ],
)
def test_precheck_sends_obfuscations_to_the_parser(template: str) -> None:
    jinja = gguf_scan._jinja()
    assert jinja is not None
    assert gguf_scan._parse_can_find(template, jinja)


@pytest.mark.skipif(not HAS_JINJA, reason="jinja2 not installed")
@pytest.mark.parametrize("template", [LLAMA3_TEMPLATE, LLAMA2_TEMPLATE, QWEN_TEMPLATE])
def test_real_templates_skip_the_costly_parse(template: str) -> None:
    jinja = gguf_scan._jinja()
    assert jinja is not None
    assert not gguf_scan._parse_can_find(template, jinja)


class _Unseekable(io.BytesIO):
    def seekable(self) -> bool:
        return False


def _outcome(stream: io.BytesIO, size: int) -> object:
    try:
        findings = scan_gguf(stream, size, file="m.gguf", member=None, limits=Limits())
    except EOFError:
        return "EOFError"
    return [(f.rule_id, f.severity, f.offset) for f in findings]


_VOCAB = gguf(
    [
        kv_str("general.name", "m"),
        gstr(b"tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 300)
        + b"".join(gstr(f"tok{i}".encode() * (i % 7)) for i in range(300)),
        kv_u32("general.alignment", 32),
    ],
    [tensor_info("w", [32], 0, 0)],
    b"\x00" * 128,
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(_VOCAB)), st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255))))
def test_string_arrays_read_in_blocks_match_one_by_one(
    cut: int, edits: list[tuple[int, int]]
) -> None:
    data = bytearray(_VOCAB[:cut])
    for at, value in edits:
        if at < len(data):
            data[at] = value
    blocks = _outcome(io.BytesIO(bytes(data)), len(data))  # seekable: strings read in blocks
    one_by_one = _outcome(_Unseekable(bytes(data)), len(data))
    assert blocks == one_by_one


def _text_rules_one_by_one(text: str) -> list[tuple[Severity, str, str]]:
    """The text rules applied to every tag, without the whole-text shortcut."""
    found: dict[str, tuple[Severity, str]] = {}
    for match in gguf_scan._CODE.finditer(text):
        code = match.group(1) if match.group(1) is not None else match.group(2)
        bare = gguf_scan._STRING_LITERAL.sub("''", code)
        for severity, reason, pattern, on_bare in gguf_scan._RULES:
            hit = pattern.search(bare if on_bare else code)
            if hit is not None and reason not in found:
                found[reason] = (severity, gguf_scan._excerpt(match.group(0), hit.start()))
    return [(severity, reason, excerpt) for reason, (severity, excerpt) in found.items()]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=24))
def test_text_rule_shortcut_changes_nothing(pieces: list[str]) -> None:
    text = "".join(pieces)
    jinja_findings = gguf_scan._jinja_findings
    gguf_scan._jinja_findings = lambda text: []
    try:
        assert analyse_chat_template(text) == _text_rules_one_by_one(text)
    finally:
        gguf_scan._jinja_findings = jinja_findings


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.sampled_from([*_PIECES, " os.", "xos.", "system(", "namespace.", "\\n"]), max_size=24
    )
)
def test_parse_trigger_search_is_the_regex_search(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert gguf_scan._parse_triggered(text) == (gguf_scan._PARSE_TRIGGERS.search(text) is not None)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=24))
def test_whole_text_gates_are_looser_than_their_rules(pieces: list[str]) -> None:
    text = "".join(pieces)
    for (_, _, pattern, _), anywhere in zip(gguf_scan._RULES, gguf_scan._ANYWHERE, strict=True):
        for match in gguf_scan._CODE.finditer(text):
            code = match.group(1) if match.group(1) is not None else match.group(2)
            bare = gguf_scan._STRING_LITERAL.sub("''", code)
            if pattern.search(code) or pattern.search(bare):
                assert anywhere(text), (pattern.pattern, text)


def test_jinja_parse_is_skipped_once_a_text_rule_is_critical(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def must_not_parse(text: str) -> list[tuple[Severity, str, str]]:
        raise AssertionError("parsed")

    monkeypatch.setattr(gguf_scan, "_jinja_findings", must_not_parse)
    found = analyse_chat_template("{{ cycler.__init__.__globals__.os.popen('id') }}")
    assert any(severity is Severity.CRITICAL for severity, _, _ in found)
    monkeypatch.undo()
    if HAS_JINJA:  # only high text findings: the parse still runs and adds its own
        found = analyse_chat_template("{{ x[('_' ~ '_cla') ~ 'ss__'] }}")
        assert any(severity in BLOCKING for severity, _, _ in found)
