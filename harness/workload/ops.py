"""Each operation, written once, as a generator of SQL steps.

An operation yields a ``Step`` where it would wait for the server, receives the
step's rows, and returns ``(result, txids)``: its result and the ids of the
transactions whose writes it committed. Drivers (the free-running executor, a
step scheduler) run the same generators, so they cannot drift apart.

The function calls read ``txid_current_if_assigned()`` in the same statement,
after the call (the ``offset 0`` subquery keeps it from being evaluated first):
that is the transaction the call's writes committed in, or null if it wrote
nothing. That links each call to its rows in the audit trail exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generator, Sequence

__all__ = ["Step", "OpGen", "OPS", "FUNCTIONS", "ISOLATION_LEVELS", "start", "register"]


@dataclass(frozen=True)
class Step:
    sql: str
    params: tuple[Any, ...] = ()


Rows = Sequence[Sequence[Any]]
OpGen = Generator[Step, Rows, tuple[Any, tuple[int, ...]]]


def _call(function: str) -> Callable[[str], OpGen]:
    query = (
        f"select r, txid_current_if_assigned() from (select {function}(%s::uuid) as r offset 0) s"
    )

    def op(row_id: str) -> OpGen:
        rows = yield Step(query, (row_id,))
        result, txid = rows[0]
        return result, (() if txid is None else (int(txid),))

    op.__name__ = function
    return op


def reinstate_naive(row_id: str) -> OpGen:
    """The app's old Reinstate button: read the counter in one request, write the
    value computed from it in another (two autocommit statements)."""
    rows = yield Step("select sessions_used from public.client_purchases where id = %s::uuid",
                      (row_id,))
    used = rows[0][0] if rows else None
    if used is None or used <= 0:  # the button is not shown at zero
        return -1, ()
    rows = yield Step(
        "update public.client_purchases set sessions_used = %s where id = %s::uuid"
        " returning sessions_used, txid_current()",
        (used - 1, row_id),
    )
    if not rows:
        return -1, ()
    return rows[0][0], (int(rows[0][1]),)


OPS: dict[str, Callable[[str], OpGen]] = {
    "use": _call("public.use_session"),
    "release": _call("public.release_session"),
    "reinstate_naive": reinstate_naive,
}


def register(name: str, function: str) -> None:
    """Another counter's RPC (a workload file): ``schema.name(argtypes)``."""
    OPS[name] = _call(function.split("(")[0])
    FUNCTIONS[name] = function

# The functions under test behind each operation (for pause points).
FUNCTIONS: dict[str, str] = {
    "use": "public.use_session(uuid)",
    "release": "public.release_session(uuid)",
}

ISOLATION_LEVELS: dict[str, str] = {
    "read-committed": "read committed",
    "repeatable-read": "repeatable read",
    "serializable": "serializable",
}


def _in_transaction(gen: OpGen, level: str) -> OpGen:
    yield Step(f"begin isolation level {ISOLATION_LEVELS[level]}")
    result = yield from gen
    yield Step("commit")
    return result


def start(op: str, row_id: str, isolation: str | None = None) -> OpGen:
    """The generator of one call: autocommit, or in an explicit transaction."""
    gen = OPS[op](row_id)
    return gen if isolation is None else _in_transaction(gen, isolation)
