"""The values a policy is made of and produces: rules, rule results and stage decisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["deny", "warn"]
Status = Literal["pass", "fail", "warn", "skipped", "excepted", "error"]

# Every status, in the order reports list them; `counts` always carries all of them.
STATUSES: tuple[Status, ...] = ("pass", "fail", "warn", "skipped", "excepted", "error")
BLOCKING: frozenset[Status] = frozenset({"fail", "error"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a stage gate, as written in the policy (its CEL sources, not programs)."""

    id: str
    title: str
    stage: str
    when: str
    check: str
    message: str | None
    message_expression: str | None
    action: Action
    controls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleResult:
    """The outcome of one rule for one version.

    ``message`` is empty for ``pass``; for ``fail``/``warn``/``excepted`` it says what is
    missing, for ``error`` it is the CEL runtime error.
    """

    rule_id: str
    title: str
    status: Status
    message: str
    action: Action
    controls: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "status": self.status,
            "message": self.message,
            "action": self.action,
            "controls": list(self.controls),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict of a policy on one version for one stage.

    A version may enter the stage when no rule failed and no rule errored: an expression that
    fails at run time, or returns something other than a bool, blocks (fail closed). Warnings,
    skipped rules and excepted rules do not block.
    """

    stage: str
    policy_name: str
    policy_digest: str
    results: tuple[RuleResult, ...]

    @property
    def allowed(self) -> bool:
        """True when no result is ``fail`` or ``error``."""
        return not any(r.status in BLOCKING for r in self.results)

    @property
    def blocking(self) -> tuple[RuleResult, ...]:
        """The results that deny entry (``fail`` and ``error``), in rule order."""
        return tuple(r for r in self.results if r.status in BLOCKING)

    @property
    def counts(self) -> dict[str, int]:
        """Number of results per status, every status present (zero when none)."""
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for result in self.results:
            counts[result.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, as stored with a promotion and printed by the CLI."""
        return {
            "stage": self.stage,
            "policy_name": self.policy_name,
            "policy_digest": self.policy_digest,
            "allowed": self.allowed,
            "counts": self.counts,
            "results": [r.to_dict() for r in self.results],
        }
