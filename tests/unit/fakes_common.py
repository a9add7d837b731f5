"""What the in-memory fakes of the services share."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def all_or_nothing(state: object) -> AsyncIterator[None]:
    """Like a transaction: when the block raises, ``state`` gets back the attributes it had before.
    They are restored in place, since the repositories of later units of work share the object."""
    before = copy.deepcopy(state)
    try:
        yield
    except BaseException:
        for name in vars(before):
            setattr(state, name, getattr(before, name))
        raise
