"""The sequential specification of one session pack, Porcupine-sized.

A model is a few small functions: ``init`` (the state a pack starts in),
``step`` (may an operation return this result in this state, and what state
follows), ``partition`` (which independent object a call touches) and
``describe`` (the state in words, for counterexamples). The checkers in
``harness.check`` search for an order of concurrent calls that this
specification accepts; it knows nothing about threads, time or SQL.

The rules are the app's plan, read sequentially:

* ``use`` succeeds (``true``, ``used + 1``) only when both columns are set,
  at least one session remains and the pack has not expired; otherwise it
  returns ``false`` and changes nothing.
* ``release`` (and the naive reinstate, which promises the same thing)
  decrements ``used`` when it is > 0 and returns the new value; at 0 or null
  it returns ``-1`` and changes nothing. Expiry is deliberately ignored.

Pure: no psycopg, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

from harness.history import Call, Pack

__all__ = ["OPS", "SPECS", "OpSpec", "register", "PackState", "init", "apply", "step",
           "is_noop", "partition", "describe"]

Result = Union[bool, int, None]

@dataclass(frozen=True)
class OpSpec:
    """What a counter operation promises: which way it moves the counter, and
    how it says so (``boolean``: true / false; ``new_value``: the new value,
    or -1 for a no-op)."""

    direction: int  # +1 or -1
    returns: str = "boolean"

    @property
    def noop(self) -> Result:
        return False if self.returns == "boolean" else -1


#: Operations the model knows. ``reinstate_naive`` is the app's old
#: read-then-write "Reinstate" button; it promises what ``release`` promises,
#: which is exactly why the harness can catch it breaking that promise.
#: Other counters (a workload file) add theirs with ``register``.
SPECS: dict[str, OpSpec] = {
    "use": OpSpec(+1, "boolean"),
    "release": OpSpec(-1, "new_value"),
    "reinstate_naive": OpSpec(-1, "new_value"),
}
OPS = tuple(SPECS)


def register(name: str, spec: OpSpec) -> None:
    global OPS
    SPECS[name] = spec
    OPS = tuple(SPECS)


@dataclass(frozen=True)
class PackState:
    total: int | None
    used: int | None
    expired: bool = False


def init(pack: Pack) -> PackState:
    return PackState(total=pack.total, used=pack.used, expired=pack.expired)


def apply(state: PackState, op: str) -> tuple[Result, PackState]:
    """What ``op`` returns in ``state`` and the state after it (deterministic)."""
    spec = SPECS.get(op)
    if spec is None:
        raise ValueError(f"unknown operation {op!r}: the model knows {', '.join(OPS)}")
    total, used = state.total, state.used
    if spec.direction > 0:
        # sessions_remaining is null when either column is null: refused.
        if used is None or total is None or total - used <= 0 or state.expired:
            return spec.noop, state
        after = replace(state, used=used + 1)
    else:
        # Taking back ignores expiry: reinstating on an expired pack works.
        if used is None or used <= 0:
            return spec.noop, state
        after = replace(state, used=used - 1)
    return (True if spec.returns == "boolean" else after.used), after


def step(state: PackState, op: str, result: Result) -> tuple[bool, PackState]:
    """Is ``result`` allowed for ``op`` in ``state``, and the next state.

    ``result`` None means unknown (an ``info`` call assumed to have taken
    effect): anything is allowed and the op has its usual effect. Results are
    compared with their type, so ``release`` returning ``True`` is not ``1``.
    On a disallowed result the state is returned unchanged.
    """
    expected, after = apply(state, op)
    if result is None:
        return True, after
    if type(result) is not type(expected) or result != expected:
        return False, state
    return True, after


def is_noop(op: str, result: Result) -> bool:
    """Does a call that returned ``result`` certainly leave the state as it was?"""
    noop = SPECS[op].noop
    return type(result) is type(noop) and result == noop


def partition(call: Call) -> int:
    """Calls on different purchases never interact: check them apart."""
    return call.purchase


def _fmt(value: int | None) -> str:
    return "null" if value is None else str(value)


def describe(state: PackState) -> str:
    """``used=3/5``, ``used=3/5 (expired)``, ``used=null/5``."""
    text = f"used={_fmt(state.used)}/{_fmt(state.total)}"
    return text + " (expired)" if state.expired else text
