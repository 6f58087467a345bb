"""Who is acting: ``--as NAME``, else ``$SIGNOFF_ACTOR``, else the operating-system user."""

from __future__ import annotations

import getpass
import os
import re

from signoff.errors import InvalidInputError

ACTOR_PATTERN = re.compile(r"[^\s@][^\s]{0,255}")


def resolve_actor(explicit: str | None = None) -> str:
    """The acting identity for audit fields (the server, later, takes it from the token)."""
    actor = explicit or os.environ.get("SIGNOFF_ACTOR") or _os_user()
    if not ACTOR_PATTERN.fullmatch(actor):
        raise InvalidInputError(
            f"invalid actor {actor!r}",
            hint="give --as NAME (or SIGNOFF_ACTOR): 1-256 characters, no spaces, not starting "
            "with '@'",
        )
    return actor


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise InvalidInputError(
            "cannot tell who is acting: the operating-system user has no name",
            hint="give --as NAME or set SIGNOFF_ACTOR",
        ) from None
