"""Trim the policy variables to the fields a stage's expressions can name, before conversion.

Converting Python values to CEL costs about a microsecond per string and per map key (the
binding tries int, float and datetime conversions before str, each raising a Python exception),
which is most of what evaluating a gate costs. Evidence records carry fields no rule reads
(predicate types, tool versions, finding ids), so each stage converts only what it can use:

* a top-level variable no expression of the stage mentions is left out;
* records -- ``model``, ``version``, each evidence record, each finding, each approval -- keep
  only keys that occur as a word somewhere in the stage's expressions (``e.kind``,
  ``e["kind"]`` and ``has(e.kind)`` all contain ``kind``), plus any key that is not
  identifier-shaped (it could be reached only as a string literal, which is not worth parsing);
* free maps inside records (``tags``, ``metadata``, ``metrics``, ``tool``) pass whole.

Field access therefore behaves exactly as on the full variables. What differs is only an
expression that observes a record as a whole -- ``size(e)``, iterating its keys, comparing it
to a map literal -- which sees the kept keys only. Policies have no reason to do that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Records come from callers; bound the memo so odd keys cannot grow it without limit.
_MEMO_LIMIT = 4096


class Projection:
    """The words of one stage's expressions, and the trimming they allow."""

    __slots__ = ("_keep", "_words")

    def __init__(self, sources: Iterable[str]) -> None:
        self._words = frozenset(word for source in sources for word in _WORD.findall(source))
        # Memo of key -> kept: field names repeat across every record of every version.
        self._keep: dict[str, bool] = {}

    def apply(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The variables the stage can reach, records trimmed; the input is not modified."""
        words = self._words
        projected: dict[str, Any] = {}
        for name, value in variables.items():
            if name not in words:
                continue
            if name == "evidence":
                value = [self._evidence(item) for item in value]
            elif name == "approvals":
                value = [self._record(item) for item in value]
            elif name in ("model", "version"):
                value = self._record(value)
            projected[name] = value
        return projected

    def _evidence(self, item: Any) -> Any:
        record = self._record(item)
        findings = record.get("findings") if isinstance(record, dict) else None
        if isinstance(findings, list | tuple):
            record["findings"] = [self._record(finding) for finding in findings]
        return record

    def _record(self, value: Any) -> Any:
        # Anything but a mapping passes unchanged: the conversion or the rule reports it.
        if not isinstance(value, Mapping):
            return value
        keep = self._keep
        return {
            key: item
            for key, item in value.items()
            if keep.get(key) or (key not in keep and self._decide(key))
        }

    def _decide(self, key: Any) -> bool:
        kept = not isinstance(key, str) or key in self._words or not _WORD.fullmatch(key)
        if isinstance(key, str) and len(self._keep) < _MEMO_LIMIT:
            self._keep[key] = kept
        return kept
