"""A loaded policy: validated, every expression compiled once, ready to evaluate versions."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Collection, Mapping
from typing import Any

from signoff.errors import InvalidInputError
from signoff.policy import document
from signoff.policy.batch import DEFAULT_MAX_ENTRIES, BatchEvaluator
from signoff.policy.evaluation import CompiledRule, evaluate_rules
from signoff.policy.expressions import Expression, compile_expression
from signoff.policy.projection import Projection
from signoff.policy.results import Decision, Rule
from signoff.policy.variables import NAMES, build_context

# A `when` that is literally true is not run at all: one CEL call saved per rule.
_ALWAYS = "true"


class Policy:
    """Stage gates written as CEL rules in a YAML document (``kind: Policy``).

    Build one with ``Policy.load(text)``. A policy defines gates for ``approved`` and/or
    ``production``; ``candidate`` and ``retired`` never have one. A defined stage with no rules
    allows every version; whether a stage the policy does not define may be entered is the
    caller's decision (``has_stage``), and ``evaluate`` refuses such a stage.
    """

    __slots__ = ("_digest", "_document", "_gates", "_text")

    def __init__(
        self,
        text: str,
        parsed: document.PolicyDocument,
        gates: dict[str, _Gate],
    ) -> None:
        self._text = text
        self._digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self._document = parsed
        self._gates = gates

    @classmethod
    def load(cls, text: str) -> Policy:
        """Parse, validate and compile ``text``; raise ``InvalidInputError`` naming any fault."""
        parsed = document.parse(text)
        gates = {
            stage: _Gate(
                tuple(
                    _compile(rule, f"spec.stages.{stage}.rules[{index}]")
                    for index, rule in enumerate(rules)
                )
            )
            for stage, rules in parsed.stages.items()
        }
        return cls(text, parsed, gates)

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return self._document.name

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the exact UTF-8 bytes of the text: what a decision was made under."""
        return self._digest

    @property
    def text(self) -> str:
        """The YAML text, exactly as loaded."""
        return self._text

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages this policy gates, in the order written."""
        return tuple(self._gates)

    @property
    def protected_aliases(self) -> dict[str, str]:
        """Alias name -> the stage a version must be in for the alias to point at it."""
        return dict(self._document.protected_aliases)

    @property
    def max_evidence_age_days(self) -> int | float:
        """``spec.maxEvidenceAgeDays`` (default 90), also ``params.maxEvidenceAgeDays``."""
        return self._document.max_evidence_age_days

    @property
    def params(self) -> dict[str, Any]:
        """What expressions see as ``params``: ``spec.params`` plus ``maxEvidenceAgeDays``."""
        return copy.deepcopy(self._document.params)

    @property
    def scan_allowlist(self) -> tuple[str, ...]:
        """Globals this registry's artifact scans accept beyond the built-in profiles."""
        return self._document.scan_allowlist

    def has_stage(self, stage: str) -> bool:
        """True when the policy defines a gate for ``stage`` (possibly with no rules)."""
        return stage in self._gates

    def rules(self, stage: str) -> tuple[Rule, ...]:
        """The rules of ``stage``'s gate, in order; refuses a stage the policy does not define."""
        return tuple(compiled.rule for compiled in self._stage(stage).rules)

    def evaluate(
        self,
        stage: str,
        variables: Mapping[str, Any],
        *,
        excepted_rule_ids: Collection[str] = (),
    ) -> Decision:
        """Evaluate ``stage``'s rules for one version.

        ``variables`` are the supplied policy variables (see ``signoff.policy.variables``);
        ``excepted_rule_ids`` are rules whose failure an approved exception waives (reported as
        ``excepted``, not blocking). The CEL context is built once and shared by all rules.
        """
        if isinstance(excepted_rule_ids, str):
            raise InvalidInputError(
                "excepted_rule_ids is a string, not a collection of rule ids",
                hint=f"pass a list or set, e.g. [{excepted_rule_ids!r}]",
            )
        gate = self._stage(stage)
        context = build_context(variables, self._document.params, gate.projection)
        excepted = frozenset(excepted_rule_ids)
        return Decision(
            stage=stage,
            policy_name=self.name,
            policy_digest=self.digest,
            results=evaluate_rules(gate.rules, context, excepted),
        )

    def batch(self, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> BatchEvaluator:
        """An evaluator for many versions in one run: the same decisions, results reused.

        See ``signoff.policy.batch``. Its caches are dropped whenever they hold more than
        ``max_entries`` items (checked before each evaluation). Not thread-safe.
        """
        return BatchEvaluator(
            self,
            {stage: (gate.rules, gate.projection) for stage, gate in self._gates.items()},
            self._document.params,
            max_entries=max_entries,
        )

    def _stage(self, stage: str) -> _Gate:
        try:
            return self._gates[stage]
        except KeyError:
            defined = ", ".join(self._gates) or "none"
            raise InvalidInputError(
                f"policy {self.name!r} has no gate for stage {stage!r}",
                hint=f"it defines: {defined}; check has_stage() before evaluating",
            ) from None

    def __repr__(self) -> str:
        return f"Policy(name={self.name!r}, digest={self.digest[:12]}..., stages={self.stages})"


class _Gate:
    """One stage's compiled rules and the projection of the variables they can read."""

    __slots__ = ("projection", "rules")

    def __init__(self, rules: tuple[CompiledRule, ...]) -> None:
        self.rules = rules
        self.projection = Projection(
            source
            for compiled in rules
            for expression in (compiled.when, compiled.check, compiled.message_expression)
            if expression is not None
            for source in (expression.source,)
        )


def _compile(rule: Rule, path: str) -> CompiledRule:
    def compiled(source: str, key: str) -> Expression:
        return compile_expression(source, where=f"{path}.{key} (rule {rule.id!r})", variables=NAMES)

    return CompiledRule(
        rule=rule,
        when=None if rule.when.strip() == _ALWAYS else compiled(rule.when, "when"),
        check=compiled(rule.check, "check"),
        message_expression=(
            None
            if rule.message_expression is None
            else compiled(rule.message_expression, "messageExpression")
        ),
    )
