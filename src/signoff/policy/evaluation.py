"""Run compiled rules against one version's CEL context and turn the outcomes into results.

Every way a rule can go wrong at run time (an error raised by the binding, a ``when`` or
``check`` that is not a bool) becomes status ``error``, which blocks: a gate that cannot be
evaluated must not open. Exceptions waive only a rule that ran and did not pass; they never
waive an ``error``, because an exception is granted against a finding, not a broken rule.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import cel

from signoff.policy.expressions import Expression, describe
from signoff.policy.results import Rule, RuleResult, Status


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its expressions compiled; ``when`` is None when it is always applicable.

    Results that do not depend on the version are built once here and shared (they are frozen).
    """

    rule: Rule
    when: Expression | None
    check: Expression
    message_expression: Expression | None
    passed: RuleResult = field(init=False)
    skipped: RuleResult = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", result(self.rule, "pass", ""))
        object.__setattr__(
            self, "skipped", result(self.rule, "skipped", "not applicable (when is false)")
        )


class _RuleError(Exception):
    """A rule expression failed at run time; the text is the one-line description."""


def evaluate_rules(
    rules: tuple[CompiledRule, ...], context: cel.Context, excepted: Collection[str]
) -> tuple[RuleResult, ...]:
    """Evaluate ``rules`` in order against ``context``."""
    return tuple([_evaluate(compiled, context, excepted) for compiled in rules])


def result(rule: Rule, status: Status, message: str) -> RuleResult:
    """A result of ``rule``."""
    return RuleResult(
        rule_id=rule.id,
        title=rule.title,
        status=status,
        message=message,
        action=rule.action,
        controls=rule.controls,
    )


def _evaluate(
    compiled: CompiledRule, context: cel.Context, excepted: Collection[str]
) -> RuleResult:
    when = True if compiled.when is None else condition(compiled.when, context, "when")
    check = condition(compiled.check, context, "check") if when is True else None
    message = failure_message(compiled, context) if check is False else ""
    outcome = settle(compiled, when, check, message)
    if outcome.status in ("fail", "warn") and compiled.rule.id in excepted:
        return result(compiled.rule, "excepted", message)
    return outcome


def condition(expression: Expression, context: cel.Context, field: str) -> bool | str:
    """The bool ``expression`` yields, or the text of the error that makes its rule ``error``."""
    try:
        return _boolean(expression, context, field)
    except _RuleError as error:
        return str(error)


def settle(
    compiled: CompiledRule, when: bool | str, check: bool | str | None, message: str
) -> RuleResult:
    """The result, before exceptions, of a rule whose ``when`` and ``check`` gave these.

    ``check`` is read only when ``when`` is True, ``message`` only when ``check`` is False.
    """
    rule = compiled.rule
    if when is not True:
        return compiled.skipped if when is False else result(rule, "error", str(when))
    if check is True:
        return compiled.passed
    if check is not False:
        return result(rule, "error", str(check))
    return result(rule, "fail" if rule.action == "deny" else "warn", message)


def _boolean(expression: Expression, context: cel.Context, field: str) -> bool:
    try:
        value = expression.run(context)
    # The binding maps CEL errors onto several built-in exceptions (TypeError, KeyError,
    # RuntimeError, ValueError, IndexError, ZeroDivisionError, ...): catch them all, fail closed.
    except Exception as error:
        raise _RuleError(f"{field}: {describe(error)}") from None
    if not isinstance(value, bool):
        raise _RuleError(f"{field} returned {type(value).__name__} {value!r:.80}, not a bool")
    return value


def failure_message(compiled: CompiledRule, context: cel.Context) -> str:
    """``messageExpression`` if it yields a string, else ``message``, else a generic message."""
    if compiled.message_expression is not None:
        try:
            value = compiled.message_expression.run(context)
        except Exception:  # a broken message must not hide the failure it describes
            value = None
        if isinstance(value, str) and value:
            return value
    return static_message(compiled.rule)


def static_message(rule: Rule) -> str:
    """``message``, else a generic message: what a failure reports without a usable
    ``messageExpression``."""
    return rule.message or f"check failed: {rule.title}"
