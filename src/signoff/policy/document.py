"""Parse a policy's YAML text and validate its shape into plain values.

Validation is strict, because a policy that silently means less than it says is worse than none:
unknown keys, duplicate keys, wrongly typed values, unknown stages and duplicate rule ids are all
refused with the path of the offending value (``spec.stages.production.rules[2].check``).
Expressions are only checked to be strings here; ``policy.py`` compiles them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import yaml

from signoff.domain import ALIAS_PATTERN, MAX_NAME_LENGTH, Stage
from signoff.errors import InvalidInputError
from signoff.policy.results import Action, Rule

API_VERSION = "signoff.dev/v1"
KIND = "Policy"
# Only these stages have gates: every version starts as a candidate, and retiring is always allowed.
GATED_STAGES: tuple[str, ...] = (Stage.APPROVED.value, Stage.PRODUCTION.value)
DEFAULT_MAX_EVIDENCE_AGE_DAYS = 90
ACTIONS: tuple[Action, ...] = ("deny", "warn")
MAX_POLICY_CHARS = 1_000_000
# YAML anchors can nest params arbitrarily deep, or make them contain themselves.
_MAX_PARAMS_DEPTH = 16

# Policy names and rule ids: DNS-label-like, as Kubernetes object names.
_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?")
_CONTROL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*:\S+")

_TOP_KEYS = {"apiVersion", "kind", "metadata", "spec"}
_METADATA_KEYS = {"name", "description"}
_SPEC_KEYS = {"maxEvidenceAgeDays", "params", "protectedAliases", "scanAllowlist", "stages"}
_STAGE_KEYS = {"rules"}
_RULE_KEYS = {
    "id",
    "title",
    "when",
    "check",
    "message",
    "messageExpression",
    "action",
    "controls",
}


@dataclass(frozen=True)
class PolicyDocument:
    """A validated policy, expressions still as source text."""

    name: str
    max_evidence_age_days: int | float
    params: dict[str, Any]
    protected_aliases: dict[str, str]
    stages: dict[str, tuple[Rule, ...]]
    scan_allowlist: tuple[str, ...] = ()


def parse(text: str) -> PolicyDocument:
    """Parse and validate ``text``; raise ``InvalidInputError`` naming the path on any fault."""
    root = _mapping(_load_yaml(text), "policy", _TOP_KEYS, required=_TOP_KEYS)
    for key, expected in (("apiVersion", API_VERSION), ("kind", KIND)):
        if root[key] != expected:
            _refuse(key, f"is {root[key]!r}, not {expected!r}", f"write `{key}: {expected}`")
    metadata = _mapping(root["metadata"], "metadata", _METADATA_KEYS, required={"name"})
    name = _string(metadata["name"], "metadata.name")
    if not _NAME.fullmatch(name):
        _refuse("metadata.name", f"{name!r} is not a valid policy name", _NAME_HINT)
    if "description" in metadata:
        _string(metadata["description"], "metadata.description", empty_ok=True)
    spec = _mapping(root["spec"], "spec", _SPEC_KEYS, required={"stages"})
    max_age = _max_age(spec.get("maxEvidenceAgeDays", DEFAULT_MAX_EVIDENCE_AGE_DAYS))
    return PolicyDocument(
        name=name,
        max_evidence_age_days=max_age,
        params=_params(spec.get("params", {}), max_age),
        protected_aliases=_protected_aliases(spec.get("protectedAliases", {})),
        stages=_stages(spec["stages"]),
        scan_allowlist=_scan_allowlist(spec.get("scanAllowlist", [])),
    )


_GLOBAL_NAME = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\.([A-Za-z_][A-Za-z0-9_]*|\*)"
)


def _scan_allowlist(value: Any) -> tuple[str, ...]:
    """Extra globals the artifact scanner accepts in pickles: ``module.name`` or ``module.*``."""
    path = "spec.scanAllowlist"
    if not isinstance(value, list):
        _refuse(path, "is not a list", "write a list of module.name strings")
    entries: list[str] = []
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(entry, str) or not _GLOBAL_NAME.fullmatch(entry):
            _refuse(where, f"{entry!r} is not module.name", "write e.g. mypackage.layers.MyLayer")
        entries.append(entry)
    return tuple(entries)


_NAME_HINT = "use lowercase letters, digits, '.' and '-', at most 63 characters"


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                continue  # other keys are refused by the shape checks, or by PyYAML if unhashable
            if key in seen:
                mark = key_node.start_mark
                raise InvalidInputError(
                    f"duplicate key {key!r} at line {mark.line + 1}, column {mark.column + 1}",
                    hint="write each key once",
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _load_yaml(text: str) -> Any:
    if len(text) > MAX_POLICY_CHARS:
        raise InvalidInputError(
            f"policy is {len(text):,} characters, more than {MAX_POLICY_CHARS:,}",
            hint="a policy is a short list of rules; check that this is the right file",
        )
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        where = ""
        if error.problem_mark is not None:
            where = (
                f" at line {error.problem_mark.line + 1}, column {error.problem_mark.column + 1}"
            )
        raise InvalidInputError(
            f"policy is not valid YAML: {error.problem or error.context}{where}",
            hint="check indentation and quoting; quote CEL expressions",
        ) from None
    except yaml.YAMLError as error:
        raise InvalidInputError(
            f"policy is not valid YAML: {str(error).splitlines()[0]}", hint="check the YAML syntax"
        ) from None
    if document is None:
        raise InvalidInputError(
            "policy is empty", hint="write a Policy document, e.g. signoff/policy/default.yaml"
        )
    return document


def _refuse(path: str, problem: str, hint: str) -> NoReturn:
    raise InvalidInputError(f"{path} {problem}", hint=hint)


def _mapping(
    value: Any, path: str, allowed: set[str], *, required: Collection[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        _refuse(path, f"must be a mapping, not {_type(value)}", "see the default policy's layout")
    for key in value:
        if not isinstance(key, str) or key not in allowed:
            _refuse(f"{path}.{key}", "is not a known key", f"allowed: {', '.join(sorted(allowed))}")
    for key in sorted(set(required) - set(value)):
        _refuse(f"{path}.{key}", "is missing", f"add {key!r} to {path}")
    return cast(dict[str, Any], value)


def _string(value: Any, path: str, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        _refuse(path, f"must be a string, not {_type(value)}", "quote the value")
    if not empty_ok and not value.strip():
        _refuse(path, "is empty", "give it a value")
    return value


def _type(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "empty"}.get(
        type(value), type(value).__name__
    )


def _max_age(value: Any) -> int | float:
    path = "spec.maxEvidenceAgeDays"
    if isinstance(value, bool) or not isinstance(value, int | float):
        _refuse(path, f"must be a number, not {_type(value)}", "give a number of days, e.g. 90")
    if not math.isfinite(value) or value <= 0:
        _refuse(path, f"must be a positive number, not {value!r}", "give a number of days, e.g. 90")
    return value


def _params(value: Any, max_age: int | float) -> dict[str, Any]:
    path = "spec.params"
    if not isinstance(value, dict):
        _refuse(path, f"must be a mapping, not {_type(value)}", "write `params: {name: value}`")
    if "maxEvidenceAgeDays" in value:
        _refuse(
            f"{path}.maxEvidenceAgeDays",
            "duplicates spec.maxEvidenceAgeDays",
            "set it once, as spec.maxEvidenceAgeDays",
        )
    _plain(value, path, 0)
    return {**value, "maxEvidenceAgeDays": max_age}


def _plain(value: Any, path: str, depth: int) -> None:
    """Refuse values CEL cannot receive (YAML dates, non-string keys, non-finite numbers)."""
    if depth > _MAX_PARAMS_DEPTH:
        _refuse(path, f"nests more than {_MAX_PARAMS_DEPTH} levels deep", "flatten the params")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                _refuse(f"{path}.{key}", "is not a string key", "quote the key")
            _plain(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _plain(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        _refuse(path, "is not a finite number", "give a finite number")
    elif value is not None and not isinstance(value, str | int | float | bool):
        _refuse(path, f"is a {_type(value)}, which CEL cannot receive", "quote the value")


def _protected_aliases(value: Any) -> dict[str, str]:
    path = "spec.protectedAliases"
    if not isinstance(value, dict):
        _refuse(path, f"must be a mapping, not {_type(value)}", "write `alias: stage` pairs")
    aliases: dict[str, str] = {}
    for alias, stage in value.items():
        where = f"{path}.{alias}"
        if (
            not isinstance(alias, str)
            or len(alias) > MAX_NAME_LENGTH
            or not ALIAS_PATTERN.fullmatch(alias)
        ):
            _refuse(where, "is not a valid alias", "use lowercase letters, digits, '.', '_', '-'")
        if stage not in GATED_STAGES:
            _refuse(where, f"names stage {stage!r}", f"choose one of: {', '.join(GATED_STAGES)}")
        aliases[alias] = stage
    return aliases


def _stages(value: Any) -> dict[str, tuple[Rule, ...]]:
    path = "spec.stages"
    if not isinstance(value, dict):
        _refuse(path, f"must be a mapping, not {_type(value)}", "write `stages: {approved: ...}`")
    stages: dict[str, tuple[Rule, ...]] = {}
    seen: dict[str, str] = {}
    for stage, body in value.items():
        if stage not in GATED_STAGES:
            _refuse(
                f"{path}.{stage}",
                "is not a stage with a gate",
                f"define only: {', '.join(GATED_STAGES)} (candidate and retired have no gate)",
            )
        where = f"{path}.{stage}"
        rules = _mapping(body, where, _STAGE_KEYS, required=_STAGE_KEYS)["rules"]
        if not isinstance(rules, list):
            _refuse(f"{where}.rules", f"must be a list, not {_type(rules)}", "write `rules: []`")
        parsed = []
        for index, item in enumerate(rules):
            rule = _rule(item, stage, f"{where}.rules[{index}]")
            if rule.id in seen:
                _refuse(
                    f"{where}.rules[{index}].id",
                    f"{rule.id!r} duplicates the rule at {seen[rule.id]}",
                    "rule ids are unique across the whole policy; rename one",
                )
            seen[rule.id] = f"{where}.rules[{index}]"
            parsed.append(rule)
        stages[stage] = tuple(parsed)
    return stages


def _rule(value: Any, stage: str, path: str) -> Rule:
    body = _mapping(value, path, _RULE_KEYS, required={"id", "title", "check"})
    rule_id = _string(body["id"], f"{path}.id")
    if not _NAME.fullmatch(rule_id):
        _refuse(f"{path}.id", f"{rule_id!r} is not a valid rule id", _NAME_HINT)
    action = body.get("action", "deny")
    if action not in ACTIONS:
        _refuse(f"{path}.action", f"is {action!r}", f"choose one of: {', '.join(ACTIONS)}")
    controls = body.get("controls", [])
    if not isinstance(controls, list):
        _refuse(f"{path}.controls", f"must be a list, not {_type(controls)}", "write `[...]`")
    for index, control in enumerate(controls):
        if not isinstance(control, str) or not _CONTROL.fullmatch(control):
            _refuse(
                f"{path}.controls[{index}]",
                f"{control!r} is not FRAMEWORK:CONTROL",
                "write e.g. NIST-AI-RMF:MEASURE-2.7 or ISO-42001:A.6.2.4",
            )
    optional = {
        key: _string(body[key], f"{path}.{key}") if key in body else None
        for key in ("when", "message", "messageExpression")
    }
    return Rule(
        id=rule_id,
        title=_string(body["title"], f"{path}.title"),
        stage=stage,
        when=optional["when"] or "true",
        check=_string(body["check"], f"{path}.check"),
        message=optional["message"],
        message_expression=optional["messageExpression"],
        action=cast(Action, action),
        controls=tuple(controls),
    )
