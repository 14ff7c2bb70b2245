"""Linearizability of a history of counter calls against ``harness.model``.

The search is Wing & Gong's, with Lowe's memoisation, as Porcupine runs it:

* the history is split by purchase (calls on different rows never interact,
  so each partition is checked alone -- "P-compositionality");
* a partition becomes a doubly linked list of call and return entries in time
  order. The search repeatedly takes a call whose call entry comes before the
  first remaining return entry (it may take effect now), applies it to the
  model and unlinks both its entries; when it meets a return entry whose call
  has not been placed yet, that call should already have taken effect, so it
  backtracks. The list is empty when every call has been placed;
* a configuration (set of placed calls as a bitset, model state) is never
  explored twice: the future depends on nothing else.

Outcomes: ``fail`` calls did not take effect and are dropped; ``ok`` calls
must take effect inside their window with their observed result; ``info``
calls get no return entry (no upper bound) and no observed result. Placing an
unknown call last changes no observed result, so requiring every call to be
placed never turns an info call into a false violation.

Ties: a return and a call entry at the same instant count as overlapping,
the order that can only make the checker more permissive.

The loop is iterative and works on small integers only (entries, interned
states and results), so 100,000 calls check in well under two seconds.

When a partition fails, ``_minimise`` shrinks it to a certificate a person
can read; see there. Pure: no psycopg.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from harness import model
from harness.history import Call, Outcome, Pack
from harness.model import PackState

__all__ = ["LinFailure", "LinResult", "check_linearizable", "check_partition", "linearizable"]

_NEVER = 1 << 80  # sort key of a return that never comes (info calls)

# An op as the search sees it: (name, result or None if unknown, invoked, returned or None).
_Op = tuple


@dataclass(frozen=True)
class LinFailure:
    """Why one purchase's calls have no valid order.

    ``calls`` cannot be ordered starting from ``start``, whatever the other
    calls of the purchase did (they may or may not have taken effect, any
    time after they were invoked); ``start`` is the pack's initial state, or,
    when ``folded`` > 0, the one state the first ``folded`` calls leave (they
    all completed before any of ``calls`` began). ``closest`` is the longest
    order of ``calls`` the search could build before getting stuck.
    """

    purchase: int
    calls: tuple[Call, ...]
    closest: tuple[Call, ...]
    explanation: str
    start: PackState
    folded: int = 0


@dataclass(frozen=True)
class LinResult:
    ok: bool
    failures: tuple[LinFailure, ...] = ()
    checked: int = 0  # calls checked (fail outcomes excluded)

    def failure(self, purchase: int) -> LinFailure | None:
        return next((f for f in self.failures if f.purchase == purchase), None)


def check_linearizable(packs: Sequence[Pack], calls: Sequence[Call]) -> LinResult:
    """Check every purchase's calls; ``packs[i]`` is purchase ``i``'s initial state."""
    parts: dict[int, list[Call]] = {}
    for c in calls:
        if c.outcome is not Outcome.FAIL:
            parts.setdefault(model.partition(c), []).append(c)
    failures = []
    for purchase in sorted(parts):
        if not 0 <= purchase < len(packs):
            raise ValueError(
                f"call on purchase {purchase}, but the workload has {len(packs)} packs "
                f"(indices 0..{len(packs) - 1})")
        failure = check_partition(packs[purchase], parts[purchase])
        if failure is not None:
            failures.append(failure)
    return LinResult(not failures, tuple(failures), sum(map(len, parts.values())))


def check_partition(pack: Pack, calls: Sequence[Call]) -> LinFailure | None:
    """Check the calls of one purchase; None when linearizable."""
    calls = _sorted(calls)
    start = model.init(pack)
    if _search(start, [_strict(c) for c in calls]).ok:
        return None
    return _minimise(start, calls)


def linearizable(start: PackState, calls: Sequence[Call]) -> bool:
    """Just the yes/no answer for one partition, from any starting state."""
    return bool(_search(start, [_strict(c) for c in _sorted(calls)]).ok)


def _sorted(calls: Sequence[Call]) -> list[Call]:
    kept = [c for c in calls if c.outcome is not Outcome.FAIL]
    for c in kept:
        if c.op not in model.OPS:
            raise ValueError(f"{c.describe()}: unknown operation {c.op!r}; the model knows "
                             f"{', '.join(model.OPS)}")
    return sorted(kept, key=lambda c: (c.invoked_at, c.call))


def _strict(c: Call) -> _Op:
    """As observed: info calls are unknown and open-ended, ok calls are exact."""
    if c.outcome is Outcome.OK:
        return (c.op, c.result, c.invoked_at, c.completed_at)
    return _weak(c)


def _weak(c: Call) -> _Op:
    """May or may not have taken effect, at any time after its invocation."""
    return (c.op, None, c.invoked_at, None)


# -- the search ---------------------------------------------------------------


class _Found:
    __slots__ = ("ok", "finals", "closest", "steps")

    def __init__(self) -> None:
        self.ok: bool | None = False  # None: gave up (budget spent)
        self.steps = 0  # loop iterations used
        self.finals: set[PackState] = set()  # collect mode: every reachable end state
        self.closest: list[int] = []  # track mode: op indices of the deepest order


def _search(start: PackState, ops: Sequence[_Op], *, collect: bool = False,
            track: bool = False, budget: int | None = None) -> _Found:
    """Wing & Gong / Lowe over ``ops``. Op ``i`` has call entry ``2i`` and
    return entry ``2i + 1``; ``head`` is the list's sentinel.

    One refinement over Porcupine: calls with the same operation and the same
    result are interchangeable, so among those that may go next only the one
    that must return first is tried (swapping two such calls in any valid
    order keeps it valid). Under contention, where many ``use -> false`` or
    unknown calls wait together, this turns 2^k subsets into k + 1 counts.
    """
    found = _Found()
    n = len(ops)
    if n == 0:
        found.ok = True
        found.finals.add(start)
        return found

    keys = []
    for _, _, inv, ret in ops:
        keys.append(inv * 2)  # call before return at equal time: overlapping
        keys.append(_NEVER if ret is None else ret * 2 + 1)
    head = 2 * n
    nxt = [-1] * (head + 1)
    prv = [-1] * (head + 1)
    p = head
    for e in sorted(range(head), key=keys.__getitem__):
        nxt[p] = e
        prv[e] = p
        p = e
    due = keys[1::2]  # return key of op i

    # Intern results (by type too: True is not 1) and states as small ints, and
    # memoise the model's transitions, so the hot loop never builds objects.
    rid_of: dict[tuple, int] = {}
    rid = [rid_of.setdefault((name, type(res), res), len(rid_of)) for name, res, _, _ in ops]
    rdefs = list(rid_of)
    nr = len(rdefs)
    states = [start]
    sid_of = {start: 0}
    trans: dict[int, int] = {}  # sid * nr + rid -> next sid, or -1 if refused

    def candidates() -> list[int]:
        """Ops whose call entry precedes the first return entry, one per class."""
        out: list[int] = []
        e = nxt[head]
        while e != -1 and not e & 1:
            i = e >> 1
            r = rid[i]
            for k, j in enumerate(out):
                if rid[j] == r:
                    if due[i] < due[j]:
                        out[k] = i
                    break
            else:
                out.append(i)
            e = nxt[e]
        return out

    seen: set[tuple[int, int]] = set()
    frames: list[tuple] = []  # (candidates, next index, op placed, state, bitset) per level
    path: list[int] = []  # ops placed, in order
    best: list[int] = []
    agree = 0  # path[:agree] == best[:agree]
    limit = -1 if budget is None else budget
    steps = 0
    s = 0
    lin = 0
    cands = candidates()
    at = 0
    while True:
        steps += 1
        if steps == limit:
            found.ok = None
            found.steps = steps
            return found
        if at < len(cands):
            i = cands[at]
            at += 1
            tk = s * nr + rid[i]
            t = trans.get(tk)
            if t is None:
                name, _, res = rdefs[rid[i]]
                ok, after = model.step(states[s], name, res)
                if not ok:
                    t = -1
                else:
                    t = sid_of.get(after)
                    if t is None:
                        t = sid_of[after] = len(states)
                        states.append(after)
                trans[tk] = t
            if t < 0:
                continue
            nl = lin | (1 << i)
            key = (nl, t)
            if key in seen:
                continue
            seen.add(key)
            frames.append((cands, at, i, s, lin))
            s, lin = t, nl
            e = 2 * i  # unlink the call entry...
            a, b = prv[e], nxt[e]
            nxt[a] = b
            prv[b] = a
            e += 1  # ...and its return entry
            a, b = prv[e], nxt[e]
            nxt[a] = b
            if b != -1:
                prv[b] = a
            if track:
                path.append(i)
                if len(path) > len(best):
                    best[agree:] = path[agree:]
                    agree = len(path)
            if nxt[head] == -1:  # everything placed
                if not collect:
                    found.ok = True
                    break
                found.finals.add(states[s])
                cands, at = [], 0  # then keep looking for other end states
            else:
                cands, at = candidates(), 0
        else:  # nothing left to try at this level: undo the choice that led here
            if not frames:
                break
            cands, at, i, s, lin = frames.pop()
            e = 2 * i + 1  # relink in reverse order of unlinking (dancing links)
            a, b = prv[e], nxt[e]
            nxt[a] = e
            if b != -1:
                prv[b] = e
            e -= 1
            a, b = prv[e], nxt[e]
            nxt[a] = e
            prv[b] = e
            if track:
                path.pop()
                if agree > len(path):
                    agree = len(path)
    if collect:
        found.ok = bool(found.finals)
    found.steps = steps
    found.closest = best
    return found


# -- minimising and explaining a failure ----------------------------------------

_PROBE_BUDGET = 200_000  # search steps per probe while minimising
_TOTAL_BUDGET = 3_000_000  # search steps for a whole minimisation


class _Budget:
    def __init__(self, total: int) -> None:
        self.left = total

    def fails(self, start: PackState, strict: Sequence[Call], weak: Sequence[Call]) -> bool | None:
        """Do ``strict`` fail from ``start`` even if ``weak`` calls are unknown?
        None when the budget ran out before an answer."""
        if self.left <= 0:
            return None
        ops = [_strict(c) for c in strict]
        if not any(c.outcome is Outcome.OK for c in strict):
            return False
        # An unknown call invoked after every strict call returned can only be
        # placed after all of them, where it changes no observed result.
        last = max(c.completed_at if c.completed_at is not None else _NEVER
                   for c in strict if c.outcome is Outcome.OK)
        ops += [_weak(c) for c in weak if c.invoked_at <= last]
        found = self.search(start, ops)
        return None if found.ok is None else not found.ok

    def search(self, start: PackState, ops: list[_Op], collect: bool = False) -> _Found:
        if self.left <= 0:
            found = _Found()
            found.ok = None
            return found
        found = _search(start, ops, collect=collect, budget=min(_PROBE_BUDGET, self.left))
        self.left -= found.steps
        return found


def _minimise(start: PackState, calls: list[Call]) -> LinFailure:
    """Shrink a failing partition (sorted by invocation) to a certificate.

    Soundness comes from *weakening* calls rather than deleting them: a
    weakened call may or may not take effect, any time after its invocation.
    Whatever still fails with some calls weakened fails whatever those calls
    really did, and also without them.

    1. Shortest failing prefix by invocation, everything after it weakened:
       failing is monotone in the prefix length, so binary search.
    2. Fold the past: at a quiescent point (every earlier call returned before
       any later one began, none of them unknown) the earlier calls can be
       replaced by the state they leave, when that state is unique. Take the
       latest such point before the prefix's last call.
    3. Keep every call from there that changed the counter and could have
       taken effect before the prefix's last return (later calls too: one
       invoked late may still take effect early), so that the story told in
       the explanation goes through true states; then greedily drop the
       no-ops (false / -1) that are not needed, within a budget.
    """
    budget = _Budget(_TOTAL_BUDGET)
    lo, hi = 1, len(calls)  # invariant: prefix ``hi`` is known to fail
    while lo < hi:
        mid = (lo + hi) // 2
        if budget.fails(start, calls[:mid], calls[mid:]):
            hi = mid
        else:
            lo = mid + 1
    k = hi

    cut, state = _fold(start, calls[:k], budget)
    last = max((_NEVER if c.completed_at is None else c.completed_at)
               for c in calls[cut:k] if c.outcome is Outcome.OK)
    kept = [c for i, c in enumerate(calls[cut:], cut)
            if c.outcome is Outcome.OK and (i < k or c.invoked_at <= last)]
    weak = [c for c in calls[cut:] if c.outcome is Outcome.INFO]
    for c in reversed(kept):
        if len(kept) > 1 and model.is_noop(c.op, c.result):
            trial = [x for x in kept if x is not c]
            if budget.fails(state, trial, weak + [c]):
                kept = trial
                weak.append(c)
    if _search(state, [_strict(c) for c in kept]).ok is not False:  # never expected
        state, cut, kept = start, 0, [c for c in calls if c.outcome is Outcome.OK]
    return _explain(state, cut, tuple(kept))


def _fold(start: PackState, calls: list[Call], budget: _Budget) -> tuple[int, PackState]:
    """Latest quiescent cut in ``calls`` with a single reachable state."""
    best = (0, start)
    reach = {start}
    seg = 0  # first call of the current segment
    horizon = None  # latest return so far
    for j, c in enumerate(calls):
        if horizon is not None and horizon < c.invoked_at and j > seg:
            # quiescent point before calls[j]: advance every state over calls[seg:j]
            after: set[PackState] = set()
            for s in reach:
                if budget.left <= 0:
                    return best
                found = budget.search(s, [_strict(x) for x in calls[seg:j]], collect=True)
                if found.ok is None:
                    return best
                after |= found.finals
            if not after or len(after) > 64:
                return best
            reach, seg = after, j
            if len(reach) == 1:
                best = (j, next(iter(reach)))
        if c.outcome is not Outcome.OK or c.completed_at is None:
            break  # an unknown call leaves no quiescent point after it
        horizon = c.completed_at if horizon is None else max(horizon, c.completed_at)
    return best


def _fmt(result: object) -> str:
    if isinstance(result, bool):
        return "true" if result else "false"
    return "null" if result is None else str(result)


def _explain(start: PackState, folded: int, calls: tuple[Call, ...]) -> LinFailure:
    found = _search(start, [_strict(c) for c in calls], track=True)
    closest = tuple(calls[i] for i in found.closest)
    state, steps = start, []
    for c in closest:
        _, state = model.step(state, c.op, c.result)
        steps.append(f"{c.describe()} ({model.describe(state)})")
    # At the deepest point every call that could come next is refused by the
    # model; the one that must come next is the earliest to return.
    rest = [c for c in calls if c not in closest]
    stuck = min(rest, key=lambda c: (c.completed_at is None, c.completed_at or 0, c.invoked_at))
    expected, _ = model.apply(state, stuck.op)
    who = f"t{stuck.thread} {stuck.op}(p{stuck.purchase})"
    lead = f"Starting from {model.describe(start)}"
    if folded:
        lead += f" (what the {folded} earlier calls on p{stuck.purchase} leave)"
    said = f"the model says it returns {_fmt(expected)}"
    if len(calls) == 1:
        text = f"{lead}, {who} returned {_fmt(stuck.result)}, but {said}."
    else:
        head = (f"{lead}, {who} returned {_fmt(stuck.result)}, but no order of these "
                f"{len(calls)} calls that respects real time produces that")
        if steps:
            text = (f"{head}: the longest order found was {', '.join(steps)}, after which "
                    f"{stuck.describe()} is impossible ({said}).")
        else:
            text = (f"{head}: none of them can go first, and {stuck.describe()} "
                    f"cannot wait ({said}).")
    return LinFailure(stuck.purchase, calls, closest, text, start, folded)
