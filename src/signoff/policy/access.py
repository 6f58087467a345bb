"""What one CEL expression can observe of the policy variables, read from its tokens.

The batch evaluator (``batch.py``) reuses an expression's outcome for a version that the
expression cannot tell apart from an earlier one. That needs to know, conservatively, what it can
observe; this module reads it from the token stream (the binding exposes no syntax tree):

* ``variables``: the policy variables it references (identifiers not after a ``.``).
* ``by_field``: true when every record -- ``model``, ``version``, an evidence or approval item, a
  finding -- is only ever read one named field at a time (``e.kind``, ``e["kind"]``,
  ``has(e.kind)``), and lists of records only iterated with macros, indexed, filtered or sized.
  Such an expression sees the same whether a record carries only the fields it names or also
  those others name (``projection.py`` keeps the union for a whole stage), so its outcome depends
  only on the fields it names. One that may see a record whole (``size(model)``,
  ``e == {...}``, ``"kind" in e``, ``model.exists(k, ...)``) is not ``by_field``.
* ``ages``: for a ``by_field`` expression, how it reads ``age_days``: an empty set when it does
  not; the comparisons when every read is ``x.age_days OP limit`` (``OP`` one of ``< <= > >=``,
  ``limit`` a number literal or ``params.name``) standing as a whole operand of ``&&``, ``||``,
  ``?:``, a call or a literal; ``None`` when it reads it any other way.

Anything the tokenizer does not recognise makes the answer the conservative one (not
``by_field``, ``ages`` None). Being conservative costs only memo hits, never correctness.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from signoff.policy.projection import WORD
from signoff.policy.variables import NAMES

AGE = "age_days"
# Macros whose first argument binds a name (`has` binds none).
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_ITERATE = frozenset({"all", "exists", "exists_one", "map"})
_RECORDS = frozenset({"model", "version"})
_LISTS = frozenset({"evidence", "approvals"})
_RELATIONS = frozenset({"<", "<=", ">", ">="})
# Tokens after which an operand starts a whole expression (nothing binds tighter to its left),
# and tokens that end one (nothing binds tighter to its right than a relation).
_OPENERS = frozenset({"(", "[", "{", ",", "&&", "||", "?", ":"})
_CLOSERS = frozenset({")", "]", "}", ",", "&&", "||", "?", ":"})
# Integers compare exactly with doubles in CEL and in Python only below 2**53.
_EXACT_INT = 2**53

# CEL lexical grammar (cel-spec): strings with optional raw/bytes prefixes, numbers, identifiers,
# operators; `//` comments. The alternatives are tried in order at each position.
_TOKEN = re.compile(
    r"""
    (?P<skip>\s+|//[^\n]*)
  | (?P<string>
        (?:[bB]?[rR]|[rR][bB])
        (?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"[^"\n\r]*"|'[^'\n\r]*')
      | [bB]?
        (?:\"\"\"(?:\\[\s\S]|[^\\])*?\"\"\"|'''(?:\\[\s\S]|[^\\])*?'''
          |"(?:\\.|[^\\"\n\r])*"|'(?:\\.|[^\\'\n\r])*')
    )
  | (?P<number>
        (?:\d+\.\d+|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|0[xX][0-9a-fA-F]+[uU]?|\d+[uU]?
    )
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[<>!+\-*/%?:.,()\[\]{}])
    """,
    re.VERBOSE,
)
# A string literal usable as a field name: plain quotes, no escapes, no prefix.
_PLAIN_STRING = re.compile(r"""(?:"([^"\\\n\r]*)"|'([^'\\\n\r]*)')""")
_DECIMAL = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class Comparison:
    """``x.age_days OP limit``, with ``limit`` one that Python and CEL compare ages with alike."""

    op: str
    limit: int | float


@dataclass(frozen=True, slots=True)
class Access:
    """What a rule can observe; see the module docstring."""

    variables: frozenset[str]
    by_field: bool
    ages: frozenset[Comparison] | None


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str


def words(sources: Iterable[str]) -> frozenset[str]:
    """The identifier-shaped words of ``sources``: what ``Projection`` keeps record fields by."""
    return frozenset(word for source in sources for word in WORD.findall(source))


def analyse(sources: Iterable[str], params: Mapping[str, Any]) -> Access:
    """Analyse CEL ``sources`` (one expression's, or several read together); ``params`` gives the
    values of ``params.name`` limits."""
    sources = tuple(sources)
    mentioned = words(sources)
    variables: set[str] = set()
    by_field = True
    ages: set[Comparison] | None = set()
    for source in sources:
        tokens = _tokenize(source)
        if tokens is None:
            return Access(mentioned & NAMES, by_field=False, ages=None)
        scan = _Scan(tokens, params)
        variables |= scan.variables
        by_field = by_field and scan.by_field
        if ages is not None and scan.ages is not None:
            ages |= scan.ages
        else:
            ages = None
    if ages is not None and AGE in mentioned:
        # `age_days` outside the comparisons (a string "age_days", a comment) may be a read the
        # scan did not see; only a count that matches proves every mention was a comparison.
        mentions = sum(WORD.findall(source).count(AGE) for source in sources)
        seen = sum(1 for source in sources for t in _tokenize(source) or () if t.text == AGE)
        if mentions != seen:
            ages = None
    return Access(
        frozenset(variables),
        by_field=by_field,
        ages=frozenset(ages) if by_field and ages is not None else None,
    )


def _tokenize(source: str) -> list[_Token] | None:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None or match.end() == position:
            return None
        kind = match.lastgroup or ""
        if kind != "skip":
            tokens.append(_Token(kind, match.group()))
        position = match.end()
    return tokens


class _Scan:
    """One source's tokens, checked as the module docstring describes."""

    def __init__(self, tokens: list[_Token], params: Mapping[str, Any]) -> None:
        self.tokens = tokens
        self.params = params
        self.variables: set[str] = set()
        self.by_field = True
        self.ages: set[Comparison] | None = set()
        partner = _partners(tokens)
        if partner is None:
            self.by_field, self.ages = False, None
            self.variables = {t.text for t in tokens if t.kind == "ident"} & NAMES
            return
        self.partner = partner
        # Token index of each name a macro binds -> whether it may be bound to records.
        bindings = {
            index + 3: self._may_hold_records(index - 1)
            for index in range(len(tokens))
            if self.text(index) == "."
            and self.text(index + 1) in _MACROS
            and self.text(index + 2) == "("
            and self.kind(index + 3) == "ident"
            and self.text(index + 4) == ","
        }
        bound = {self.text(i) for i in bindings}
        if bound & (NAMES | {"findings", AGE}):
            # A macro variable shadowing a policy variable defeats every check below.
            self.by_field, self.ages = False, None
        records = _RECORDS | {self.text(i) for i, held in bindings.items() if held}
        for index, token in enumerate(tokens):
            if token.kind != "ident":
                continue
            if token.text == AGE:
                self._age(index)
            if self.text(index - 1) == "." or index in bindings:
                continue  # a selected field, or the name a macro binds
            if token.text in NAMES and token.text not in bound:
                self.variables.add(token.text)
            if token.text in records:
                self.by_field = self.by_field and self._walk(index, index + 1, "record")
            elif token.text in _LISTS:
                self.by_field = self.by_field and self._walk(index, index + 1, "list")
        if not self.by_field:
            self.ages = None

    def text(self, index: int) -> str:
        """The token at ``index``, or "" outside the source."""
        return self.tokens[index].text if 0 <= index < len(self.tokens) else ""

    def kind(self, index: int) -> str:
        """The kind of the token at ``index``, or "" outside the source."""
        return self.tokens[index].kind if 0 <= index < len(self.tokens) else ""

    def _may_hold_records(self, end: int) -> bool:
        """Whether the macro receiver ending at token ``end`` may be a list of records.

        Lists of records are ``evidence``, ``approvals``, ``.findings`` and ``.filter(..)`` of
        them. Nothing else can hold records, because a record or list reaches another
        expression only through the chains ``_walk`` checks: ``.map(..)`` yields what its body
        selects from records, an index (``]``) yields one record. Other calls count as lists of
        records, which only makes the check stricter.
        """
        text = self.text
        if self.kind(end) == "ident":
            if text(end - 1) == ".":
                return text(end) == "findings"
            return text(end) in _LISTS
        if text(end) != ")":
            return False
        opening = self.partner[end]
        if text(opening - 2) == "." and text(opening - 1) == "filter":
            return self._may_hold_records(opening - 3)
        return not (text(opening - 2) == "." and text(opening - 1) == "map")

    def _walk(self, start: int, position: int, kind: str) -> bool:
        """Whether the chain that starts at token ``start`` reads records only field by field.

        ``kind`` is what the tokens before ``position`` yield: a "record" or a "list" of them.
        """
        text = self.text
        while True:
            if kind == "record":
                if text(position) == "." and self.kind(position + 1) == "ident":
                    if text(position + 2) == "(":
                        return False  # a method of the record (`model.size()`, `e.all(k, ..)`)
                    field = text(position + 1)
                    position += 2
                elif (
                    text(position) == "["
                    and self.kind(position + 1) == "string"
                    and _PLAIN_STRING.fullmatch(text(position + 1))
                    and text(position + 2) == "]"
                ):
                    field = text(position + 1)[1:-1]
                    position += 3
                else:
                    return False
                if field != "findings":
                    return True  # a field's value: the only records inside records are findings
                kind = "list"
            elif text(position) == "." and text(position + 2) == "(":
                method = text(position + 1)
                if method in _ITERATE:
                    return True  # the name it binds is checked where it is used
                if method == "size" and text(position + 3) == ")":
                    return True
                if method != "filter":
                    return False
                position = self.partner[position + 2] + 1
            elif text(position) == "[":
                position = self.partner[position] + 1
                kind = "record"
            else:
                # `size(list)` counts and `has(e.findings)` tests presence: neither sees a record.
                return (
                    text(position) == ")"
                    and text(start - 1) == "("
                    and text(start - 2) in ("size", "has")
                    and text(start - 3) != "."
                )

    def _age(self, index: int) -> None:
        """Check one mention of ``age_days``: keep its comparison, or give up on ages."""
        if self.ages is not None:
            comparison = self._comparison(index)
            if comparison is None:
                self.ages = None
            else:
                self.ages.add(comparison)

    def _comparison(self, index: int) -> Comparison | None:
        """The comparison ``name.age_days OP limit`` at ``index``, if that is what it is."""
        text = self.text
        name = index - 2
        # `name.age_days` as a whole left operand: nothing before it that binds tighter.
        if text(index - 1) != "." or self.kind(name) != "ident" or text(name) in _LISTS:
            return None
        if name > 0 and text(name - 1) not in _OPENERS:
            return None
        op = text(index + 1)
        if op not in _RELATIONS:
            return None
        position = index + 2
        limit: int | float | None
        if self.kind(position) == "number":
            limit = _number(text(position))
            position += 1
        elif (
            text(position) == "params"
            and text(position + 1) == "."
            and self.kind(position + 2) == "ident"
        ):
            limit = _exact_number(self.params.get(text(position + 2)))
            position += 3
        else:
            return None
        # ... and the limit a whole right operand: nothing after it that binds tighter.
        if limit is None or (position < len(self.tokens) and text(position) not in _CLOSERS):
            return None
        return Comparison(op, limit)


def _partners(tokens: list[_Token]) -> dict[int, int] | None:
    """Index of the matching bracket for every bracket, or None when they do not balance."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[int] = []
    partner: dict[int, int] = {}
    for index, token in enumerate(tokens):
        if token.kind != "op":
            continue
        if token.text in "([{":
            stack.append(index)
        elif token.text in pairs:
            if not stack or tokens[stack[-1]].text != pairs[token.text]:
                return None
            opening = stack.pop()
            partner[opening], partner[index] = index, opening
    return None if stack else partner


def _number(text: str) -> int | float | None:
    """A decimal literal's value; None for hex and unsigned literals (not worth the care)."""
    if not _DECIMAL.fullmatch(text):
        return None
    value: int | float = int(text) if text.isdigit() else float(text)
    return _exact_number(value)


def _exact_number(value: Any) -> int | float | None:
    """``value`` if Python compares it with an age exactly as CEL does, else None."""
    if type(value) is int and -_EXACT_INT <= value <= _EXACT_INT:
        return value
    if type(value) is float and math.isfinite(value):
        return value
    return None
