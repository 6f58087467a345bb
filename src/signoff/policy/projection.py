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

# What counts as a word: also what `access.py` reads rules by.
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Records come from callers; bound the memo so odd keys cannot grow it without limit.
_MEMO_LIMIT = 4096


class Projection:
    """The words of one stage's expressions, and the trimming they allow."""

    __slots__ = ("_kept", "_known", "_words")

    def __init__(self, sources: Iterable[str]) -> None:
        self._words = frozenset(word for source in sources for word in WORD.findall(source))
        # Memo of the keys seen so far and those of them kept: field names repeat across every
        # record of every version, so after the first version trimming is two set operations.
        self._known: set[Any] = set()
        self._kept: set[Any] = set()

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

    def keeps(self, key: Any) -> bool:
        """Whether a record keeps ``key``: a word of the expressions, or not identifier-shaped."""
        return not isinstance(key, str) or key in self._words or not WORD.fullmatch(key)

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
        if not value.keys() <= self._known:
            if len(self._known) >= _MEMO_LIMIT:
                return {key: item for key, item in value.items() if self.keeps(key)}
            for key in value.keys() - self._known:
                # Kept before known: a concurrent caller that finds the key known must also
                # find it kept, or it would drop a field a rule reads.
                if self.keeps(key):
                    self._kept.add(key)
                self._known.add(key)
        kept = self._kept
        return {key: item for key, item in value.items() if key in kept}
