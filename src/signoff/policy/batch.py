"""Evaluate gates for many versions in one run, reusing results across versions.

``Policy.evaluate`` converts a version's variables to CEL (most of its cost) and runs every rule.
Across a registry most versions look alike to any one expression -- the same evidence kinds and
results, the same approvers, the same risk tiers -- so ``BatchEvaluator`` keeps the outcome of
each ``when``, ``check`` and ``messageExpression`` keyed by exactly what that expression can
observe (``access.py``). A version's expressions whose keys are new are computed together in one
CEL context holding only what they read; the rest is looked up. A ``check`` behind a ``when`` that
is false is not even keyed. Decisions are ``Policy.evaluate``'s, and so are the inputs it refuses.

Keys are tuples of small ints, so that keying a version costs a few microseconds per record:

* Each record (``model``, ``version``, an evidence or approval item) is trimmed as the stage's
  projection trims it, without the item's ``age_days``, and interned by the ``marshal`` bytes of
  its values. Those bytes tell 1, 1.0 and True apart and -0.0 from 0.0, and ``marshal`` refuses
  anything but exact plain types (a datetime, a ``str`` subclass), which sends the version down
  the exact path. A record seen for the first time is checked to hold only values the binding
  accepts, so a version ``Policy.evaluate`` would refuse is refused even when nothing is
  converted.
* Each record and list also gets an id per distinct set of words of the expressions that read it:
  an expression that reads records field by field sees only its own fields, whatever the others
  read. One that may see a record whole is keyed by the record as the stage trims it.
* ``age_days`` is computed at read time, so it differs for every item; but expressions compare it
  with a limit (``e.age_days <= params.maxEvidenceAgeDays``), and such an expression is keyed by
  the outcome of each comparison for each item, which is all it can observe of the ages.
* ``now`` is keyed by its ISO form (wall-clock fields and UTC offset); ``params`` never change.

An expression that may observe ages some other way is computed whenever it is needed. A version
with anything unusual (a record that is not a dict, an age that is NaN or not a number, a value
``marshal`` refuses) is evaluated exactly as ``Policy.evaluate`` does it.

The caches are bounded (``max_entries``): past it they are all dropped. Ids are never reused, so
dropping any cache only costs recomputation. Not thread-safe: one evaluator per thread or process.
"""

from __future__ import annotations

import itertools
import marshal
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import cel

from signoff.policy.access import AGE, Access, analyse, words
from signoff.policy.evaluation import (
    CompiledRule,
    condition,
    failure_message,
    result,
    settle,
    static_message,
)
from signoff.policy.expressions import Expression
from signoff.policy.projection import Projection
from signoff.policy.results import Decision, RuleResult
from signoff.policy.variables import PARAMS, SUPPLIED, check_variables

if TYPE_CHECKING:
    from signoff.policy.policy import Policy

DEFAULT_MAX_ENTRIES = 200_000
# marshal format 2 has no back-references and one string type: equal values give equal bytes.
_MARSHAL_VERSION = 2
# Values nested deeper are not checked, so their versions take the exact path.
_MAX_DEPTH = 64
_EXACT_INT = 2**53
_I64 = 2**63
_U64 = 2**64
_FAILING = frozenset({"fail", "warn"})
_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_LIST_NAMES = ("evidence", "approvals")
_ABSENT: Any = object()
_UNKNOWN: Any = object()  # not in a memo (yet)
_NEVER: dict[Any, Any] = {}  # the memo of an expression that is never memoized: always empty
_INVALID: tuple[int, ...] = ()  # an interned record the binding would refuse
_new_id = itertools.count().__next__


class _Exact(Exception):
    """This version is evaluated exactly as ``Policy.evaluate`` does."""


class _Budget:
    """How many entries the caches of one evaluator hold."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = 0


class BatchEvaluator:
    """``Policy.evaluate`` for many versions in one run, reusing rule results across them.

    Get one from ``Policy.batch()`` per run (one ``coverage`` pass, say); see the module
    docstring. Not thread-safe.
    """

    __slots__ = ("_budget", "_max_entries", "_now", "_policy", "_stages")

    def __init__(
        self,
        policy: Policy,
        gates: Mapping[str, tuple[tuple[CompiledRule, ...], Projection]],
        params: Mapping[str, Any],
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be positive, not {max_entries}")
        self._policy = policy
        self._max_entries = max_entries
        self._budget = _Budget()
        self._now: tuple[Any, tuple[str, ...]] = (_ABSENT, ())
        self._stages = {
            stage: _Stage(stage, policy, rules, projection, params, self._budget)
            for stage, (rules, projection) in gates.items()
        }

    @property
    def entries(self) -> int:
        """How many keys, records and results the caches hold."""
        return self._budget.used

    def evaluate(
        self,
        stage: str,
        variables: Mapping[str, Any],
        *,
        excepted_rule_ids: Collection[str] = (),
    ) -> Decision:
        """The ``Decision`` that ``Policy.evaluate`` returns for these arguments, or its error."""
        plan = self._stages.get(stage)
        if plan is None or isinstance(excepted_rule_ids, str):
            # An undefined stage, a bare string: the policy refuses them in its own words.
            return self._policy.evaluate(stage, variables, excepted_rule_ids=excepted_rule_ids)
        if not _well_formed(variables):
            check_variables(variables)
        if self._budget.used > self._max_entries:
            self.clear()
        try:
            found = plan.results(variables, self._now_key(plan, variables))
        except _Exact:
            return self._policy.evaluate(stage, variables, excepted_rule_ids=excepted_rule_ids)
        if not excepted_rule_ids:
            return plan.decision(found)
        excepted = frozenset(excepted_rule_ids)
        # As in evaluation.py: an exception waives a rule that ran and did not pass.
        return plan.new_decision(
            [
                result(rule.compiled.rule, "excepted", outcome.message)
                if outcome.status in _FAILING and outcome.rule_id in excepted
                else outcome
                for outcome, rule in zip(found, plan.rules, strict=True)
            ]
        )

    def clear(self) -> None:
        """Drop every cached key, record and result."""
        for plan in self._stages.values():
            plan.clear()
        self._now = (_ABSENT, ())
        self._budget.used = 0

    def _now_key(self, plan: _Stage, variables: Mapping[str, Any]) -> tuple[str, ...]:
        """``now``'s key, after checking once that it converts: the stage converts it whenever a
        rule mentions it, and a version whose results are all reused converts nothing."""
        if not plan.converts_now:
            return ()
        now = variables["now"]
        if now is self._now[0]:
            return self._now[1]
        if type(now) is not datetime:
            raise _Exact
        try:
            cel.Context({"now": now})
        except (ValueError, TypeError):
            raise _Exact from None
        key = ("now", now.isoformat())
        self._now = (now, key)
        return key


class _Expression:
    """One ``when``, ``check`` or ``messageExpression``: how it is keyed, and its memo."""

    __slots__ = ("by_field", "expression", "field", "index", "keyer", "memo", "sources")

    def __init__(self, index: int, expression: Expression, field: str, by_field: bool) -> None:
        self.index = index
        self.expression = expression
        self.field = field
        self.sources = (expression.source,)
        self.by_field = by_field
        self.memo: dict[Any, Any] = _NEVER  # replaced by a dict of its own if it is keyed
        self.keyer: Callable[[list[Any]], Any] = _no_key

    def compute(self, context: cel.Context, compiled: CompiledRule) -> Any:
        """Its value in ``context``: a bool or error text, or for a message the message."""
        if self.field == "message":
            return failure_message(compiled, context)
        return condition(self.expression, context, self.field)


class _RulePlan:
    """One rule's expressions, and its results by their outcomes (so equal results are one
    object, which lets decisions of reused results be reused too)."""

    __slots__ = ("check", "compiled", "message", "settled", "static", "when")

    def __init__(
        self,
        compiled: CompiledRule,
        when: _Expression | None,
        check: _Expression,
        message: _Expression | None,
    ) -> None:
        self.compiled = compiled
        self.when = when
        self.check = check
        self.message = message
        self.static = static_message(compiled.rule)
        self.settled: dict[tuple[Any, Any, Any], RuleResult] = {}


class _Stage:
    """One stage's rules: how each expression is keyed, their memos, the record interners."""

    def __init__(
        self,
        stage: str,
        policy: Policy,
        rules: tuple[CompiledRule, ...],
        projection: Projection,
        params: Mapping[str, Any],
        budget: _Budget,
    ) -> None:
        self.stage = stage
        self.policy_name = policy.name
        self.policy_digest = policy.digest
        self.projection = projection
        self.params = params
        self.budget = budget
        self.expressions: list[_Expression] = []
        accesses: list[Access] = []
        reads: list[frozenset[str]] = []
        plans = []
        for compiled in rules:
            nodes: list[_Expression | None] = []
            for field, expression in (
                ("when", compiled.when),
                ("check", compiled.check),
                ("message", compiled.message_expression),
            ):
                if expression is None:
                    nodes.append(None)
                    continue
                access = analyse([expression.source], params)
                node = _Expression(len(self.expressions), expression, field, access.by_field)
                self.expressions.append(node)
                accesses.append(access)
                # What it reads: the analysis's names, and the binding's own list as backstop.
                reads.append(
                    frozenset((access.variables | set(expression.program.variables())) & SUPPLIED)
                )
                nodes.append(node)
            when, check, message = nodes
            assert check is not None  # every rule has one
            plans.append(_RulePlan(compiled, when, check, message))
        self.rules = plans
        # Every record variable the stage converts is interned, and so checked, whether or not a
        # memoized expression reads it: Policy.evaluate would refuse it all the same.
        converted = set().union(*reads) | {name for name in SUPPLIED if projection.keeps(name)}
        ages_kept = projection.keeps(AGE)
        self.records: dict[str, _Records] = {
            name: _Records(projection, budget, ages=False, findings=False)
            for name in ("model", "version")
            if name in converted
        }
        self.lists: dict[str, _List] = {
            name: _List(_Records(projection, budget, ages=ages_kept, findings=name == "evidence"))
            for name in _LIST_NAMES
            if name in converted
        }
        self.converts_now = "now" in converted
        self.comparisons: list[tuple[str, Callable[[Any, Any], bool], int | float]] = []
        wiring = [
            self._wire(access, names, node.sources, ages_kept)
            for access, names, node in zip(accesses, reads, self.expressions, strict=True)
        ]
        # A version's inputs, in order: each record's ids, each list's, comparison outcomes, now.
        offsets: dict[str, int] = {}
        size = 0
        widths = [(name, records.width) for name, records in self.records.items()]
        widths += [(name, listing.records.width) for name, listing in self.lists.items()]
        for name, width in [*widths, ("age", len(self.comparisons)), ("now", 1)]:
            offsets[name] = size
            size += width
        for node, parts in zip(self.expressions, wiring, strict=True):
            if parts is None:
                continue  # never memoized: computed whenever it is needed
            slots = [offsets[name] + index for name, index in parts]
            node.memo = {}
            if len(slots) == 1:
                node.keyer = operator.itemgetter(slots[0])
            elif slots:
                node.keyer = operator.itemgetter(*slots)
        self.union: dict[frozenset[int], Projection] = {}
        self.decisions: dict[tuple[int, ...], Decision] = {}

    def _wire(
        self, access: Access, names: frozenset[str], sources: tuple[str, ...], ages_kept: bool
    ) -> list[tuple[str, int]] | None:
        """Where an expression's key comes from: (input, index) pairs; None if not memoized."""
        listed = names & set(_LIST_NAMES)
        if listed and ages_kept and (not access.by_field or access.ages is None):
            return None  # it may observe an item's age otherwise than by comparing it
        mentioned = words(sources)
        parts: list[tuple[str, int]] = []
        for name in sorted(names):
            if name == "now":
                parts.append(("now", 0))
                continue
            records = self.records[name] if name in self.records else self.lists[name].records
            group = records.group(mentioned, sources) if access.by_field else records.wide
            parts.append((name, group))
            for comparison in sorted(access.ages or (), key=repr) if name in listed else ():
                wanted = (name, _RELATIONS[comparison.op], comparison.limit)
                if wanted not in self.comparisons:
                    self.comparisons.append(wanted)
                parts.append(("age", self.comparisons.index(wanted)))
        return parts

    def clear(self) -> None:
        """Drop every cached key, record and result."""
        self.union.clear()
        self.decisions.clear()
        for records in self.records.values():
            records.clear()
        for listing in self.lists.values():
            listing.clear()
        for node in self.expressions:
            node.memo.clear()
        for plan in self.rules:
            plan.settled.clear()

    def results(self, variables: Mapping[str, Any], now_key: tuple[str, ...]) -> list[RuleResult]:
        """Each rule's result before exceptions; raises ``_Exact`` to take the exact path."""
        inputs = self._inputs(variables, now_key)
        # First what the memos know. What they do not is computed afterwards in one context,
        # converting what those expressions read; an expression whose need depends on one not
        # yet known (a check behind an unknown when) counts as needed: one conversion, not two.
        found: list[RuleResult] = []
        pending: list[tuple[int, _RulePlan, Any, Any, Any, Any, Any, Any]] = []
        needed: list[_Expression] = []
        for plan in self.rules:
            when = plan.when
            when_key = check_key = message_key = None
            check_value = message_value = None
            if when is None:
                when_value: Any = True
            else:
                when_key = when.keyer(inputs)
                when_value = when.memo.get(when_key, _UNKNOWN)
                if when_value is _UNKNOWN:
                    needed.append(when)
                elif when_value is False:
                    found.append(plan.compiled.skipped)
                    continue
            if when_value is True or when_value is _UNKNOWN:
                check = plan.check
                check_key = check.keyer(inputs)
                check_value = check.memo.get(check_key, _UNKNOWN)
                if check_value is True and when_value is True:
                    found.append(plan.compiled.passed)
                    continue
                if check_value is _UNKNOWN:
                    needed.append(check)
                if check_value is False or check_value is _UNKNOWN:
                    message = plan.message
                    if message is None:
                        message_value = plan.static
                    else:
                        message_key = message.keyer(inputs)
                        message_value = message.memo.get(message_key, _UNKNOWN)
                        if message_value is _UNKNOWN:
                            needed.append(message)
            if _UNKNOWN in (when_value, check_value, message_value):
                pending.append(
                    (
                        len(found),
                        plan,
                        when_value,
                        check_value,
                        message_value,
                        when_key,
                        check_key,
                        message_key,
                    )
                )
                found.append(plan.compiled.passed)  # a placeholder, replaced below
            else:
                found.append(self._settle(plan, when_value, check_value, message_value))
        if pending:
            context = self._context(variables, needed)
            for index, plan, when_value, check_value, message_value, *keys in pending:
                if when_value is _UNKNOWN:
                    when_value = self._compute(plan.when, plan, context, keys[0])
                if when_value is True and check_value is _UNKNOWN:
                    check_value = self._compute(plan.check, plan, context, keys[1])
                if when_value is True and check_value is False and message_value is _UNKNOWN:
                    message_value = self._compute(plan.message, plan, context, keys[2])
                found[index] = self._settle(plan, when_value, check_value, message_value)
        return found

    def _inputs(self, variables: Mapping[str, Any], now_key: tuple[str, ...]) -> list[Any]:
        """What expressions are keyed by: records' and lists' ids, comparison outcomes, now."""
        inputs: list[Any] = []
        for name, records in self.records.items():
            inputs += records.entry(variables[name])
        ages: dict[str, tuple[list[Any], bool]] = {}
        for name, listing in self.lists.items():
            ids, item_ages, absent = listing.entry(variables[name])
            inputs += ids
            ages[name] = (item_ages, absent)
        for name, relation, limit in self.comparisons:
            item_ages, absent = ages[name]
            if absent:
                inputs.append(
                    tuple([None if a is _ABSENT else relation(a, limit) for a in item_ages])
                )
            else:
                inputs.append(tuple(map(relation, item_ages, itertools.repeat(limit))))
        inputs.append(now_key)
        return inputs

    def _compute(
        self, node: _Expression | None, plan: _RulePlan, context: cel.Context, key: Any
    ) -> Any:
        assert node is not None  # it was needed, so it exists
        value = node.compute(context, plan.compiled)
        if node.memo is not _NEVER:
            node.memo[key] = value
            self.budget.used += 1
        return value

    def _settle(self, plan: _RulePlan, when: Any, check: Any, message: Any) -> RuleResult:
        """The rule's result for these outcomes, one object per distinct outcome."""
        if when is not True:
            if when is False:
                return plan.compiled.skipped
            check = message = None
        elif check is True:
            return plan.compiled.passed
        elif check is not False:
            message = None
        outcome = plan.settled.get((when, check, message))
        if outcome is None:
            outcome = settle(plan.compiled, when, check, message or "")
            plan.settled[(when, check, message)] = outcome
            self.budget.used += 1
        return outcome

    def decision(self, found: list[RuleResult]) -> Decision:
        """The decision of ``found``: one object per distinct combination of results."""
        # Results come from the rules' `settled` caches, one object per outcome, so their
        # identities are a key; the cached decision holds them, so no other object can take
        # those identities while it is cached.
        key = tuple(map(id, found))
        decision = self.decisions.get(key)
        if decision is None:
            decision = self.decisions[key] = self.new_decision(found)
            self.budget.used += 1
        return decision

    def new_decision(self, found: list[RuleResult]) -> Decision:
        """A decision of ``found``."""
        return Decision(
            stage=self.stage,
            policy_name=self.policy_name,
            policy_digest=self.policy_digest,
            results=tuple(found),
        )

    def _context(self, variables: Mapping[str, Any], needed: list[_Expression]) -> cel.Context:
        """A CEL context for the ``needed`` expressions, converting only what they can read."""
        if all(node.by_field for node in needed):
            # An expression that reads records field by field sees the same through any
            # projection that keeps its fields: the union of those of the expressions needed.
            chosen = frozenset(node.index for node in needed)
            projection = self.union.get(chosen)
            if projection is None:
                projection = Projection(source for node in needed for source in node.sources)
                self.union[chosen] = projection
                self.budget.used += 1
        else:
            projection = self.projection  # exactly what Policy.evaluate converts
        values = projection.apply(variables)
        values[PARAMS] = self.params
        try:
            return cel.Context(values)
        except (ValueError, TypeError):
            raise _Exact from None  # let Policy.evaluate refuse it in its own words


class _Shape:
    """How to read records (or findings) with one sequence of keys, precomputed once."""

    __slots__ = ("findings", "getter", "groups", "id")

    def __init__(
        self,
        shape_id: int,
        getter: Callable[[Any], Any],
        findings: bool,
        groups: list[tuple[int, Callable[[Any], Any], bool]],
    ) -> None:
        self.id = shape_id
        self.getter = getter  # the stage-kept values, apart from the age and the findings
        self.findings = findings  # whether the stage keeps the findings (trimmed apart)
        self.groups = groups  # per group: its shape id, getter, and whether it keeps findings


class _Records:
    """Interns one kind of record: ids of its stage-trimmed values and of each group's fields."""

    def __init__(
        self, projection: Projection, budget: _Budget, *, ages: bool, findings: bool
    ) -> None:
        self.keeps = projection.keeps
        self.budget = budget
        self.strip_age = ages  # an item's own age is keyed by comparisons instead (see _List)
        self.findings = findings  # an evidence item's findings are trimmed too
        self.groups: list[Callable[[Any], bool]] = []
        self.group_words: list[frozenset[str]] = []
        self.group_tables: list[dict[bytes, int]] = []
        self.shapes: dict[tuple[Any, ...], _Shape] = {}
        self.finding_shapes: dict[tuple[Any, ...], _Shape] = {}
        self.kept_ids: dict[tuple[Any, ...], int] = {}
        self.table: dict[bytes, tuple[int, ...]] = {}

    @property
    def width(self) -> int:
        """Ids per record: one per group, then the stage-wide one."""
        return len(self.groups) + 1

    @property
    def wide(self) -> int:
        """Index of the stage-wide id: what a rule that may see records whole is keyed by."""
        return len(self.groups)

    def group(self, mentioned: frozenset[str], sources: Sequence[str]) -> int:
        """The index of the group of rules whose sources have the words ``mentioned``."""
        if mentioned not in self.group_words:
            self.group_words.append(mentioned)
            self.groups.append(Projection(sources).keeps)
            self.group_tables.append({})
        return self.group_words.index(mentioned)

    def clear(self) -> None:
        """Drop every interned record."""
        self.shapes.clear()
        self.finding_shapes.clear()
        self.kept_ids.clear()
        self.table.clear()
        for table in self.group_tables:
            table.clear()

    def entry(self, record: Any) -> tuple[int, ...]:
        """The ids of ``record``: one per group, then the stage-wide one."""
        if type(record) is not dict:
            raise _Exact
        keys = tuple(record)
        shape = self.shapes.get(keys)
        if shape is None:
            shape = self._shape(keys, record=True)
        findings = self._findings(record["findings"], -1) if shape.findings else None
        try:
            data = marshal.dumps((shape.id, shape.getter(record), findings), _MARSHAL_VERSION)
        except ValueError:  # not a plain value: a datetime, a subclass, a cycle...
            raise _Exact from None
        entry = self.table.get(data)
        if entry is None:
            entry = self._new(data, record, shape, findings)
        if entry is _INVALID:
            raise _Exact
        return entry

    def _findings(self, findings: Any, group: int) -> Any:
        """A key of a record's findings, trimmed for ``group`` (-1: for the stage)."""
        if type(findings) is not list and type(findings) is not tuple:
            return [findings]  # kept whole, as the projection does (a list: unlike the below)
        key = []
        for finding in findings:
            if type(finding) is not dict:
                raise _Exact
            keys = tuple(finding)
            shape = self.finding_shapes.get(keys)
            if shape is None:
                shape = self._shape(keys, record=False)
            if group < 0:
                key.append((shape.id, shape.getter(finding)))
            else:
                shape_id, getter, _ = shape.groups[group]
                key.append((shape_id, getter(finding)))
        return tuple(key)

    def _shape(self, keys: tuple[Any, ...], *, record: bool) -> _Shape:
        """How to read a record (or, not ``record``, a finding) with these keys."""
        kept = [key for key in keys if self.keeps(key)]
        valid = all(_plain_key(key) for key in kept)
        # Only an item's own age is keyed apart, and only an item's own findings trimmed apart.
        findings = record and self.findings and "findings" in kept
        fields = [
            key
            for key in kept
            if not (record and self.strip_age and key == AGE)
            and not (findings and key == "findings")
        ]
        groups = []
        for keeps in self.groups:
            chosen = [key for key in fields if keeps(key)]
            groups.append(
                (
                    self._kept_id((record, *chosen)),
                    _getter(chosen) if valid else _refuse,
                    findings and keeps("findings"),
                )
            )
        shape = _Shape(
            self._kept_id((record, *kept)), _getter(fields) if valid else _refuse, findings, groups
        )
        (self.shapes if record else self.finding_shapes)[keys] = shape
        self.budget.used += 1
        return shape

    def _kept_id(self, kept: tuple[Any, ...]) -> int:
        found = self.kept_ids.get(kept)
        if found is None:
            found = self.kept_ids[kept] = _new_id()
            self.budget.used += 1
        return found

    def _new(
        self, data: bytes, record: dict[Any, Any], shape: _Shape, findings: Any
    ) -> tuple[int, ...]:
        """Check a record not seen before and give it its ids."""
        entry = _INVALID
        if _plain(shape.getter(record), 0) and _plain(findings, 0):
            ids = []
            for group, (shape_id, getter, has_findings) in enumerate(shape.groups):
                group_findings = self._findings(record["findings"], group) if has_findings else None
                group_data = marshal.dumps(
                    (shape_id, getter(record), group_findings), _MARSHAL_VERSION
                )
                table = self.group_tables[group]
                group_id = table.get(group_data)
                if group_id is None:
                    group_id = table[group_data] = _new_id()
                    self.budget.used += 1
                ids.append(group_id)
            ids.append(_new_id())
            entry = tuple(ids)
        self.table[data] = entry
        self.budget.used += 1
        return entry


class _List:
    """Interns a list of records (``evidence``, ``approvals``) and reads its items' ages."""

    def __init__(self, records: _Records) -> None:
        self.records = records
        self.cache: dict[tuple[int, ...], tuple[int, ...]] = {}
        self.tables: dict[tuple[int, tuple[int, ...]], int] = {}

    def clear(self) -> None:
        """Drop every interned list and record."""
        self.cache.clear()
        self.tables.clear()
        self.records.clear()

    def entry(self, items: Any) -> tuple[tuple[int, ...], list[Any], bool]:
        """The list's ids (one per group, then the stage-wide one), the items' ages (``_ABSENT``
        where an item has none) and whether any has none."""
        if type(items) is not list and type(items) is not tuple:
            raise _Exact
        entries = list(map(self.records.entry, items))
        ages: list[Any] = []
        absent = False
        if self.records.strip_age:
            ages = [item.get(AGE, _ABSENT) for item in items]
            for age in ages:
                # Only ages that Python compares exactly as CEL does (CEL has no overload for NaN).
                if type(age) is float:
                    if age != age:
                        raise _Exact
                elif age is _ABSENT:
                    absent = True
                elif type(age) is not int or not -_EXACT_INT <= age <= _EXACT_INT:
                    raise _Exact
        wide = tuple(map(operator.itemgetter(-1), entries))
        ids = self.cache.get(wide)
        if ids is None:
            ids = self.cache[wide] = self._ids(entries)
        return ids, ages, absent

    def _ids(self, entries: list[tuple[int, ...]]) -> tuple[int, ...]:
        budget = self.records.budget
        ids = []
        for group in range(self.records.width):
            column = (group, tuple([entry[group] for entry in entries]))
            list_id = self.tables.get(column)
            if list_id is None:
                list_id = self.tables[column] = _new_id()
                budget.used += 1
            ids.append(list_id)
        budget.used += 1
        return tuple(ids)


def _no_key(inputs: list[Any]) -> tuple[()]:
    return ()


def _getter(fields: list[Any]) -> Callable[[Any], Any]:
    return operator.itemgetter(*fields) if fields else _no_fields


def _no_fields(record: Any) -> tuple[()]:
    return ()


def _refuse(record: Any) -> Any:
    raise _Exact


def _well_formed(variables: Mapping[str, Any]) -> bool:
    """A quick yes for what ``check_variables`` accepts; no means: ask it."""
    if type(variables) is not dict or len(variables) != len(SUPPLIED):
        return False
    try:
        now = variables["now"]
        return (
            type(variables["model"]) is dict
            and type(variables["version"]) is dict
            and type(variables["evidence"]) in (list, tuple)
            and type(variables["approvals"]) in (list, tuple)
            and type(now) is datetime
            and now.utcoffset() is not None
        )
    except KeyError:
        return False


def _plain_key(key: Any) -> bool:
    """Whether the binding accepts ``key`` as a map key."""
    kind = type(key)
    if kind is str:
        return _plain_string(key)
    return kind is bool or (kind is int and -_I64 <= key < _U64)


def _plain_string(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which the binding refuses
        return False
    return True


def _plain(value: Any, depth: int) -> bool:
    """Whether the binding surely converts ``value``: exact plain types only."""
    kind = type(value)
    if kind is str:
        return _plain_string(value)
    if value is None or kind is bool or kind is int or kind is float:
        return True
    if depth >= _MAX_DEPTH:
        return False
    if kind is list or kind is tuple:
        return all(_plain(item, depth + 1) for item in value)
    if kind is dict:
        return all(_plain_key(k) and _plain(v, depth + 1) for k, v in value.items())
    return False
