"""CEL expressions: compiled once when a policy loads, run many times against a context.

The ``cel`` package (Rust cel-interpreter bindings) parses at ``cel.compile`` but resolves names
only at run time: a misspelt variable compiles and then fails on every evaluation. So that such a
policy is refused when it loads, not when a version is promoted, the identifiers an expression
references (``Program.variables()``) are checked against the policy variables here.
``Program.variables()`` also lists the names macros bind (the ``e`` of ``evidence.exists(e, ..)``);
those are read from the source and allowed. Unknown *functions* cannot be detected the same way
(the binding reports nothing about them before run time); they fail closed as rule errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import cel

from signoff.errors import InvalidInputError

# The names a macro binds: `list.all(x, ...)`, `.exists(x, ...)`, `.exists_one`, `.map`, `.filter`.
_MACRO_BINDING = re.compile(r"\b(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
# The binding's runtime errors run on with advice after the first sentence; keep the first.
_SENTENCE_END = re.compile(r"\.\s+(?=[A-Z])")
_MAX_ERROR_LENGTH = 300


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled CEL expression and its source."""

    source: str
    program: cel.Program

    def run(self, context: cel.Context) -> Any:
        """Evaluate against ``context``; the binding's exceptions propagate (see ``describe``)."""
        return self.program.execute(context)


def compile_expression(source: str, *, where: str, variables: frozenset[str]) -> Expression:
    """Compile ``source``; ``where`` names it in errors (path and rule id).

    Raises ``InvalidInputError`` on a syntax error or a reference to a name that is neither one of
    ``variables`` nor bound by a macro.
    """
    try:
        program = cel.compile(source)
    except ValueError as error:
        raise InvalidInputError(
            f"{where} does not compile: {_compile_error(source, error)}",
            hint="fix the CEL expression (syntax: https://github.com/google/cel-spec)",
        ) from None
    bound = set(_MACRO_BINDING.findall(source))
    unknown = sorted(set(program.variables()) - variables - bound)
    if unknown:
        raise InvalidInputError(
            f"{where} references unknown variable {unknown[0]!r}",
            hint=f"expressions can use: {', '.join(sorted(variables))}",
        )
    return Expression(source=source, program=program)


def describe(error: Exception) -> str:
    """One line describing a CEL runtime error, for a rule result."""
    if isinstance(error, KeyError):
        # A missing map key surfaces as a bare KeyError whose text is only the key.
        return f"no such key: {error.args[0]!r}" if error.args else "no such key"
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = _SENTENCE_END.split(text, maxsplit=1)[0]
    return text[:_MAX_ERROR_LENGTH]


def _compile_error(source: str, error: ValueError) -> str:
    """The parser's diagnosis without the echo of the source (which may span lines)."""
    text = str(error)
    prefix = f"Failed to parse expression '{source}': "
    text = text.removeprefix(prefix)
    first = text.strip().splitlines()[0] if text.strip() else "invalid expression"
    return first[:_MAX_ERROR_LENGTH]
