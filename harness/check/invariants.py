"""Invariants checked against what the database committed.

The audit trail gives every committed value of the counter in commit order,
and each call's transaction id says which write was its own. From those,
per purchase:

* states ``s0 = initial, s1, ..., sn`` -- never negative, never over the total;
* each step ``s(k-1) -> sk`` is +1 or -1 (else an update was lost);
* the final value is initial + successful uses - successful releases
  (calls with unknown outcome may count or not);
* each call's result is what its own write committed;
* a no-op call saw, somewhere in its real-time window, a committed state that
  justifies the no-op: writes whose calls finished before it started come
  before it, writes whose calls started after it finished come after it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

from .. import model
from ..history import AuditRow, Call, Outcome, Pack
from .verdict import Violation

__all__ = ["DIRECTION", "check_invariants"]

class _Directions:
    """Which way a successful call of each operation moves the counter (from
    the model's operation specs, which a workload file may extend)."""

    def get(self, op: str, default: int = 0) -> int:
        spec = model.SPECS.get(op)
        return spec.direction if spec else default

    def __getitem__(self, op: str) -> int:
        return model.SPECS[op].direction

    def __contains__(self, op: object) -> bool:
        return op in model.SPECS


DIRECTION = _Directions()


def _fmt(v: int | None) -> str:
    return "null" if v is None else str(v)


def _succeeded(call: Call) -> bool:
    """Did this ok call report that it moved the counter?"""
    spec = model.SPECS.get(call.op)
    if spec is None:
        return False
    if spec.returns == "boolean":
        return call.result is True
    return isinstance(call.result, int) and not isinstance(call.result, bool) and call.result != -1


def _refuses(op: str, state: int | None, pack: Pack) -> bool:
    """Would a correct implementation make ``op`` a no-op in this state? (The
    model says: one source of truth for the rules.)"""
    before = model.PackState(pack.total, state, pack.expired)
    return model.apply(before, op)[1] == before


def check_invariants(
    packs: Sequence[Pack],
    calls: Sequence[Call],
    audit: Sequence[AuditRow],
    finals: Sequence[int | None],
    allowed_errors: Iterable[str] = (),
    allow_unknown: bool = False,
) -> list[Violation]:
    out: list[Violation] = []
    allowed = set(allowed_errors)
    for c in calls:
        if c.outcome is Outcome.OK or (c.sqlstate in allowed):
            continue
        if allow_unknown and c.outcome is Outcome.INFO:
            continue  # an injected fault cut it short
        what = f"failed with {c.sqlstate}" if c.outcome is Outcome.FAIL else "ended unknown (connection lost)"
        out.append(Violation(
            "no-raise", f"{c.describe()}: the call {what}: {c.error or 'no message'}",
            (c.call,), c.purchase))

    by_purchase: dict[int, list[Call]] = defaultdict(list)
    for c in calls:
        by_purchase[c.purchase].append(c)
    writes: dict[int, list[AuditRow]] = defaultdict(list)
    for row in audit:
        writes[row.purchase].append(row)
    for p, pack in enumerate(packs):
        out += _check_purchase(p, pack, by_purchase[p], writes[p], finals[p] if p < len(finals) else None)
    return out


def _check_purchase(
    p: int, pack: Pack, calls: list[Call], rows: list[AuditRow], final: int | None
) -> list[Violation]:
    out: list[Violation] = []
    by_txid = {t: c for c in calls if c.outcome is Outcome.OK for t in c.txids}
    writer = [by_txid.get(r.txid) for r in rows]  # None: no ok call owns this write
    states = [pack.used] + [r.new for r in rows]

    def ids(*cs: Call | None) -> tuple[int, ...]:
        return tuple(c.call for c in cs if c is not None)

    def who(k: int) -> str:
        c = writer[k]
        return c.describe() if c else f"a write by txid {rows[k].txid} (pid {rows[k].pid})"

    # -- committed states ---------------------------------------------------
    for k, r in enumerate(rows):
        if r.new is not None and r.new < 0:
            out.append(Violation("never-negative",
                f"p{p}'s counter was committed as {r.new} by {who(k)} (from {_fmt(r.old)})",
                ids(writer[k], *writer[:k]), p))
            break
    if pack.total is not None:
        for k, r in enumerate(rows):
            if r.new is not None and r.new > pack.total:
                out.append(Violation("within-total",
                    f"p{p}'s counter reached {r.new}, past its total of {pack.total} "
                    f"(remaining {pack.total - r.new}), committed by {who(k)}",
                    ids(writer[k], *writer[:k]), p))
                break
    for k, r in enumerate(rows):
        if r.old == r.new and r.old is not None and (writer[k] is None or not _succeeded(writer[k])):
            continue  # a no-op that rewrote the same value: no state change
        if r.old is None or r.new is None or abs(r.new - r.old) != 1:
            prev = writer[k - 1] if k else None
            prior = f"; the write before it was {who(k - 1)}" if k else ""
            out.append(Violation("no-lost-update",
                f"p{p}'s counter went from {_fmt(r.old)} to {_fmt(r.new)} in one committed "
                f"write, by {who(k)}{prior}: an update was lost",
                ids(writer[k], prev), p))
            break

    # -- conservation -------------------------------------------------------
    ok_calls = [c for c in calls if c.outcome is Outcome.OK]
    net = sum(DIRECTION.get(c.op, 0) for c in ok_calls if _succeeded(c))
    unknown = [c for c in calls if c.outcome is Outcome.INFO]
    up = sum(1 for c in unknown if DIRECTION.get(c.op, 0) > 0)
    down = sum(1 for c in unknown if DIRECTION.get(c.op, 0) < 0)
    if pack.used is None:
        if final is not None:
            out.append(Violation("conservation",
                f"p{p} started with a null counter, which no call can move, and ended at {final}",
                ids(*ok_calls), p))
    elif final is None or not (pack.used + net - down <= final <= pack.used + net + up):
        uses = sum(1 for c in ok_calls if _succeeded(c) and DIRECTION.get(c.op, 0) > 0)
        rels = sum(1 for c in ok_calls if _succeeded(c) and DIRECTION.get(c.op, 0) < 0)
        extra = f" (and {len(unknown)} calls of unknown outcome)" if unknown else ""
        out.append(Violation("conservation",
            f"p{p} ended at {_fmt(final)}, but {pack.used} + {uses} successful uses - {rels} "
            f"successful releases = {pack.used + net}{extra}",
            ids(*(c for c in ok_calls if _succeeded(c))), p))

    # -- each call against its own write ------------------------------------
    if pack.expired:
        for c in ok_calls:
            if DIRECTION.get(c.op, 0) > 0 and _succeeded(c):
                out.append(Violation("refuse-expired",
                    f"{c.describe()} on p{p}, whose pack expired", (c.call,), p))
                break
    own: dict[int, list[int]] = defaultdict(list)
    for k, c in enumerate(writer):
        if c is not None:
            own[c.call].append(k)
    for c in ok_calls:
        msg = _return_mismatch(c, [rows[k] for k in own[c.call]])
        if msg:
            out.append(Violation("return-value", f"{c.describe()}, {msg}", (c.call,), p))

    # -- no-ops must be justified by some state in their window --------------
    for c in ok_calls:
        if c.op not in DIRECTION or _succeeded(c):
            continue
        lo = max((k + 1 for k, w in enumerate(writer)
                  if w is not None and w.completed_at is not None
                  and w.completed_at < c.invoked_at), default=0)
        hi = min((k for k, w in enumerate(writer)
                  if w is not None and c.completed_at is not None
                  and w.invoked_at > c.completed_at), default=len(rows))
        window = states[lo: hi + 1]
        if not any(_refuses(c.op, s, pack) for s in window):
            seen = ", ".join(_fmt(s) for s in window) or "nothing"
            bound = "its total or expired" if DIRECTION[c.op] > 0 else "zero"
            out.append(Violation("refusal-justified",
                f"{c.describe()}, a no-op, but while it ran p{p}'s committed counter was only "
                f"ever {seen} (never {bound})", (c.call,), p))
    return out


def _return_mismatch(c: Call, mine: list[AuditRow]) -> str | None:
    """Why the call's result disagrees with what its transaction committed, if it does."""
    spec = model.SPECS.get(c.op)
    if spec is None:
        return None
    direction = spec.direction
    if len(mine) > 1:
        steps = ", ".join(f"{_fmt(r.old)}->{_fmt(r.new)}" for r in mine)
        return f"but its transaction committed {len(mine)} writes ({steps})"
    if spec.returns == "boolean" and not isinstance(c.result, bool):
        return f"but {c.op} returns true or false"
    if spec.returns != "boolean" and (isinstance(c.result, bool) or not isinstance(c.result, int)):
        return f"but {c.op} returns the new value or -1"
    if not _succeeded(c):
        if mine and mine[0].old != mine[0].new:
            r = mine[0]
            return f"a no-op, but its transaction committed {_fmt(r.old)}->{_fmt(r.new)}"
        return None
    if not mine:
        return "but its transaction committed no change to the counter"
    r = mine[0]
    if r.old is not None and r.new is not None and r.new - r.old != direction:
        return f"but its transaction committed {_fmt(r.old)}->{_fmt(r.new)}"
    if spec.returns != "boolean" and r.new != c.result:
        return f"but its transaction committed {_fmt(r.old)}->{_fmt(r.new)}"
    return None
