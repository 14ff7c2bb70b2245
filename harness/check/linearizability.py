"""Linearizability of a history of counter calls against ``harness.model``.

The search is Wing & Gong's with Lowe's memoisation, as Porcupine runs it:

* the history is split by purchase (calls on different rows never interact,
  so each partition is checked alone: "P-compositionality");
* a partition becomes a doubly linked list of call and return entries in time
  order. A call may take effect next when its call entry comes before the
  first remaining return entry; the search applies it to the model and
  unlinks both its entries. When nothing may go next, the call owning that
  first return entry cannot be placed in time, so the search undoes its last
  choice. It succeeds when the list is empty;
* a configuration (placed calls as a bitset, model state) is explored once.

On top of that, ``_search`` only tries one of several interchangeable calls,
places accepted no-ops at once and unknown calls just in time: each is a
rearrangement of any valid order, and together they keep 16 threads on one
counter tractable.

Outcomes: ``fail`` calls did not take effect and are dropped; ``ok`` calls
take effect inside their window with their observed result; ``info`` calls
may take effect at any time after their invocation (even after a recorded
completion, since nobody knows when the server acted) with any result, or
not at all: they are optional, so they can never cause a false violation.

A return and an invocation at the same instant count as overlapping: the
permissive reading. The loop is iterative and works on small integers only
(entries, interned states and results); see ``bench/checker.py`` for speed.

A failing partition is shrunk to a certificate and explained in a sentence
(``_minimise``, ``_explain``). Pure: no psycopg, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Sequence

from harness import model
from harness.history import Call, Outcome, Pack
from harness.model import PackState

__all__ = [
    "LinFailure", "LinResult", "Undecided", "check_linearizable", "check_partition",
    "linearizable",
]

_NEVER = 1 << 80  # sort key of a return that never comes (info calls)

# An op as the search sees it: (name, result or None if unknown, invoked, returned or None).
_Op = tuple


@dataclass(frozen=True)
class LinFailure:
    """Why one purchase's calls have no valid order.

    ``calls`` (all ``ok``) have no order that respects real time and the model
    starting from ``start``, whatever the purchase's other calls did, had
    they taken effect or not, at any time after their invocation. ``start``
    is the pack's initial state or, when ``folded`` > 0, the only state the
    known calls among the first ``folded`` can leave (all of them returned
    before any later call began). ``closest`` is the longest order of
    ``calls`` the search built before getting stuck; ``explanation`` says it
    in a sentence or two.
    """

    purchase: int
    calls: tuple[Call, ...]
    closest: tuple[Call, ...]
    explanation: str
    start: PackState
    folded: int = 0


@dataclass(frozen=True)
class LinResult:
    """``ok``: every purchase was shown linearizable. ``undecided``: purchases
    whose search ran out of ``max_steps`` (never a violation by itself)."""

    ok: bool
    failures: tuple[LinFailure, ...] = ()
    checked: int = 0  # calls checked (fail outcomes excluded)
    undecided: tuple[int, ...] = ()

    def failure(self, purchase: int) -> LinFailure | None:
        return next((f for f in self.failures if f.purchase == purchase), None)


class Undecided(RuntimeError):
    """The search ran out of ``max_steps`` before it could answer."""


def check_linearizable(packs: Sequence[Pack], calls: Sequence[Call], *,
                       max_steps: int | None = None) -> LinResult:
    """Check every purchase's calls; ``packs[i]`` is purchase ``i``'s initial
    state. ``max_steps`` bounds the search per purchase (None: no bound)."""
    parts: dict[int, list[Call]] = {}
    fail, part = Outcome.FAIL, model.partition
    for c in calls:
        if c.outcome is not fail:
            parts.setdefault(part(c), []).append(c)
    failures, undecided = [], []
    for purchase in sorted(parts):
        if not 0 <= purchase < len(packs):
            raise ValueError(
                f"call on purchase {purchase}, but the workload has {len(packs)} packs "
                f"(indices 0..{len(packs) - 1})")
        try:
            failure = check_partition(packs[purchase], parts[purchase], max_steps=max_steps)
        except Undecided:
            undecided.append(purchase)
            continue
        if failure is not None:
            failures.append(failure)
    return LinResult(not failures and not undecided, tuple(failures),
                     sum(map(len, parts.values())), tuple(undecided))


def check_partition(pack: Pack, calls: Sequence[Call], *,
                    max_steps: int | None = None) -> LinFailure | None:
    """Check the calls of one purchase; None when linearizable. Raises
    ``Undecided`` if ``max_steps`` runs out before an answer."""
    calls = _sorted(calls)
    start = model.init(pack)
    found = _search(start, [_strict(c) for c in calls], budget=max_steps)
    if found.ok is None:
        raise Undecided(f"no answer within {max_steps} search steps")
    if found.ok:
        return None
    return _minimise(start, calls, found)


def linearizable(start: PackState, calls: Sequence[Call]) -> bool:
    """Just the yes/no answer for one partition, from any starting state."""
    return bool(_search(start, [_strict(c) for c in _sorted(calls)]).ok)


def _sorted(calls: Sequence[Call]) -> list[Call]:
    """Drop ``fail`` calls, sort by invocation, and refuse unknown operations
    early, before the model would raise deep inside a search."""
    kept = [c for c in calls if c.outcome is not Outcome.FAIL]
    for op in {c.op for c in kept} - set(model.OPS):
        c = next(c for c in kept if c.op == op)
        raise ValueError(f"{c.describe()}: unknown operation {op!r}; the model knows "
                         f"{', '.join(model.OPS)}")
    return sorted(kept, key=attrgetter("invoked_at", "call"))


class _Null:
    """What an ``ok`` call that returned SQL NULL is checked with: a result no
    state allows (to the model, None means "unknown")."""

    def __repr__(self) -> str:
        return "null"


_NULL = _Null()


def _strict(c: Call) -> _Op:
    """As observed: info calls are unknown and open-ended, ok calls are exact."""
    if c.outcome is Outcome.OK:
        return (c.op, _NULL if c.result is None else c.result, c.invoked_at, c.completed_at)
    return _weak(c)


def _weak(c: Call) -> _Op:
    """May or may not have taken effect, at any time after its invocation."""
    return (c.op, None, c.invoked_at, None)


# -- the search ---------------------------------------------------------------


class _Found:
    __slots__ = ("ok", "steps", "far", "finals", "closest")

    def __init__(self) -> None:
        self.ok: bool | None = False  # None: gave up (budget spent)
        self.steps = 0  # loop iterations used
        self.far = -1  # latest return a dead end had to meet next (its time)
        self.finals: set[PackState] = set()  # collect mode: every reachable end state
        self.closest: list[int] = []  # track mode: op indices of the deepest order


def _search(start: PackState, ops: Sequence[_Op], *, collect: bool = False,
            track: bool = False, budget: int | None = None) -> _Found:
    """Wing & Gong / Lowe over ``ops``. Op ``i`` has call entry ``2i`` and
    return entry ``2i + 1``; ``head`` is the list's sentinel.

    Three refinements over Porcupine, each a rearrangement of any valid order
    into one the search tries:

    * calls with the same operation and result are interchangeable, so of
      those that may go next only the one that must return first is tried
      (``use -> false`` waiting together: k + 1 choices, not 2^k);
    * a known no-op the model accepts now (``false``, ``-1``) is placed now
      and nothing else is tried: moved earlier, it changes no state;
    * unknown calls sit outside the list in one queue per operation, are
      optional, and are placed only just in time (see ``candidates``).

    The placed known calls are kept as ``(m, rest)``: the first ``m`` in
    invocation order are all placed, ``rest`` is a bitset after them. Its size
    is the concurrency, not the history's length, so memo keys stay small.
    """
    found = _Found()
    n = len(ops)
    keys = [0] * (2 * n)
    listed: list[int] = []
    queues: dict[str, list[int]] = {}
    for i, (name, res, inv, ret) in enumerate(ops):
        keys[2 * i] = inv * 2  # call before return at equal time: overlapping
        keys[2 * i + 1] = _NEVER if ret is None else ret * 2 + 1
        if res is None and ret is None:
            queues.setdefault(name, []).append(i)
        else:
            listed.append(i)
    due = keys[1::2]  # return key of op i
    listed.sort(key=lambda i: keys[2 * i])
    pos = [-1] * n  # place of a known op in invocation order
    for q, i in enumerate(listed):
        pos[i] = q
    head = 2 * n
    nxt = [-1] * (head + 1)
    prv = [-1] * (head + 1)
    p = head
    for e in sorted([x for i in listed for x in (2 * i, 2 * i + 1)], key=keys.__getitem__):
        nxt[p] = e
        prv[e] = p
        p = e
    weak = [sorted(q, key=lambda i: keys[2 * i]) for q in queues.values()]
    weak_of = [-1] * n  # queue of an unknown op
    wbit = [0] * n  # its bit in the placed-unknown bitset
    bit = 1
    for w, q in enumerate(weak):
        for i in q:
            weak_of[i] = w
            wbit[i] = bit
            bit <<= 1
    taken = [0] * len(weak)  # how many of each queue are placed (always its head)

    # Intern results (by type too: True is not 1) and states as small ints, and
    # memoise the model's transitions, so the hot loop never builds objects.
    rid_of: dict[tuple, int] = {}
    rid = [rid_of.setdefault((name, type(res), res), len(rid_of)) for name, res, _, _ in ops]
    rdefs = list(rid_of)
    nr = len(rdefs)
    states = [start]
    sid_of = {start: 0}
    trans: dict[int, int] = {}  # sid * nr + rid -> next sid, or -1 if refused

    def move(s: int, i: int) -> int:
        """The state after op ``i`` in state ``s``, or -1 if the model refuses."""
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
        return t

    def candidates(s: int, chain: int) -> list[tuple[int, int, int]]:
        """(op, next state, chain) for the ops that may go next in state ``s``:
        known ops one per class, earliest return first, then unknown ones.

        ``chain`` is -1, or the state in which the current run of unknown ops
        began. Unknown ops are placed just in time: a run of them moves the
        counter one way (an unknown op that did nothing is pointless) and ends
        with a known op the model refused both where the run began and before
        its last step. Any valid order can be rearranged into that shape,
        because here an unknown call moves the counter by one at most: a run
        that a known op did not need can go after it, shortened if it hits
        a bound, and end in the same state.
        """
        reps: list[int] = []
        e = nxt[head]
        if e != -1 and (nxt[e] == -1 or nxt[e] & 1):  # the common case: one call
            reps.append(e >> 1)
            e = nxt[e]
        while e != -1 and not e & 1:  # call entries before the first return entry
            i = e >> 1
            r = rid[i]
            for k, j in enumerate(reps):
                if rid[j] == r:
                    if due[i] < due[j]:
                        reps[k] = i
                    break
            else:
                reps.append(i)
            e = nxt[e]
        if len(reps) > 1:
            reps.sort(key=due.__getitem__)
        out = []
        s0 = chain
        for i in reps:
            t = trans.get(s * nr + rid[i])
            if t is None:
                t = move(s, i)
            if t < 0:
                continue
            if s0 < 0:
                if t == s:  # a known no-op: place it now, try nothing else
                    return [(i, t, -1)]
            elif move(s0, i) >= 0 or move(frames[-1][3], i) >= 0:
                continue  # it did not need all the unknown ops before it
            out.append((i, t, -1))
        if not weak:
            return out
        horizon = _NEVER if e == -1 else keys[e]
        way = 0 if s0 < 0 else _way(states[s0], states[s])
        for w, q in enumerate(weak):
            k = taken[w]
            if k < len(q) and keys[2 * q[k]] < horizon:
                i = q[k]
                t = move(s, i)
                if t >= 0 and t != s and (way == 0 or _way(states[s], states[t]) == way):
                    out.append((i, t, s if s0 < 0 else s0))
        return out

    seen: set[tuple[int, int, int, int, int]] = set()
    # per level: candidates, the next to try, the op placed, and what was
    # before it: state, m, rest, unknown ops placed, chain
    frames: list[tuple] = []
    path: list[int] = []  # ops placed, in order
    best: list[int] = []
    agree = 0  # path[:agree] == best[:agree]
    limit = -1 if budget is None else max(budget, 1)
    steps = 0
    far = -1
    s = m = rest = wl = 0
    chain = -1
    if nxt[head] == -1:
        found.ok = True
        if not collect:
            return found
        found.finals.add(start)
    cands = candidates(s, chain)
    at = 0
    while True:
        steps += 1
        if steps == limit:
            found.ok = None
            break
        if at < len(cands):
            i, t, c = cands[at]
            at += 1
            w = weak_of[i]
            if w < 0:
                q = pos[i] - m
                nrest = rest | (1 << q)
                nm = m
                if q == 0:  # slide past the placed run at the front
                    k = (nrest ^ (nrest + 1)).bit_length() - 1
                    nrest >>= k
                    nm += k
                nwl = wl
            else:
                nm, nrest, nwl = m, rest, wl | wbit[i]
            key = (nm, nrest, nwl, t, c)
            if key in seen:
                continue
            seen.add(key)
            frames.append((cands, at, i, s, m, rest, wl, chain))
            s, m, rest, wl, chain = t, nm, nrest, nwl, c
            if w >= 0:
                taken[w] += 1
            else:
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
            if nxt[head] == -1:  # every known call placed
                if not collect:
                    found.ok = True
                    break
                found.finals.add(states[s])  # and keep looking for other end states
            cands, at = candidates(s, chain), 0
        else:  # nothing left to try at this level: undo the choice that led here
            e = nxt[head]
            while e != -1 and not e & 1:
                e = nxt[e]
            if e != -1 and keys[e] > far:
                far = keys[e]  # the return this dead end could not meet
            if not frames:
                found.ok = bool(found.finals)
                break
            cands, at, i, s, m, rest, wl, chain = frames.pop()
            w = weak_of[i]
            if w >= 0:
                taken[w] -= 1
            else:
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
    found.steps = steps
    found.far = far >> 1  # from sort key to time
    found.closest = best
    return found


def _way(a: PackState, b: PackState) -> int:
    """Which way the counter moved from ``a`` to ``b``: -1, 0 or 1."""
    x, y = a.used or 0, b.used or 0
    return (y > x) - (y < x)


# -- minimising and explaining a failure ----------------------------------------

_PROBE_BUDGET = 100_000  # search steps per probe while minimising
_TOTAL_BUDGET = 600_000  # search steps for a whole minimisation
_EXPLAIN_BUDGET = 200_000  # search steps to find the closest order
_STORY = 8  # steps of the closest order an explanation tells at most


class _Budget:
    def __init__(self, total: int) -> None:
        self.left = total

    def fails(self, start: PackState, strict: Sequence[Call], weak: Sequence[Call]) -> bool | None:
        """Do ``strict`` fail from ``start`` even if ``weak`` calls are unknown?
        None when the budget ran out before an answer."""
        if self.left <= 0:
            return None
        if not any(c.outcome is Outcome.OK for c in strict):
            return False
        # An unknown call invoked after every strict call returned can only be
        # placed after all of them, where it changes no observed result.
        last = max(_NEVER if c.completed_at is None else c.completed_at
                   for c in strict if c.outcome is Outcome.OK)
        ops = [_strict(c) for c in strict] + [_weak(c) for c in weak if c.invoked_at <= last]
        found = self.search(start, ops)
        return None if found.ok is None else not found.ok

    def search(self, start: PackState, ops: list[_Op], collect: bool = False) -> _Found:
        found = _Found()
        if self.left > 0:
            found = _search(start, ops, collect=collect, budget=min(_PROBE_BUDGET, self.left))
            self.left -= found.steps
        else:
            found.ok = None
        return found


def _minimise(start: PackState, calls: list[Call], first: _Found) -> LinFailure:
    """Shrink a failing partition (sorted by invocation) to a certificate;
    ``first`` is the search that failed on all of it.

    Soundness comes from *weakening* calls rather than deleting them: a
    weakened call may or may not take effect, any time after its invocation.
    Whatever still fails with some calls weakened fails whatever those calls
    really did, and also without them.

    1. Shortest failing prefix by invocation, everything after it weakened.
       No order got past the return at ``first.far``, so the calls invoked
       by then already fail; failing is monotone in the prefix length, so
       binary search below that, when probes are affordable.
    2. Fold the past: at a quiescent point (every earlier call returned before
       any later one began, none of them unknown) the earlier calls can be
       replaced by the state they leave, when that state is unique. Take the
       latest such point before the prefix's last call.
    3. Keep every call from there that changed the counter and could have
       taken effect before the prefix's last return (later calls too: one
       invoked late may still take effect early), so that the story told in
       the explanation goes through true states; then greedily drop the
       no-ops (false / -1) that are not needed, within the budget.
    """
    budget = _Budget(_TOTAL_BUDGET)
    costly = first.steps > _PROBE_BUDGET  # then so is a probe on most of the calls
    lo, hi = 1, max(1, sum(1 for c in calls if c.invoked_at <= first.far))
    if costly:
        lo = hi
    while lo < hi:  # invariant: prefix ``hi`` fails
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
    weak = [c for c in calls if c.outcome is Outcome.INFO]
    for c in reversed(kept):
        if budget.left <= 0 or (costly and cut == 0):
            break
        if len(kept) > 1 and model.is_noop(c.op, c.result):
            trial = [x for x in kept if x is not c]
            if budget.fails(state, trial, weak + [c]):
                kept = trial
                weak.append(c)
    if budget.search(state, [_strict(c) for c in kept]).ok:  # never expected
        state, cut, kept = start, 0, [c for c in calls if c.outcome is Outcome.OK]
    return _explain(state, cut, tuple(kept))


def _fold(start: PackState, calls: list[Call], budget: _Budget) -> tuple[int, PackState]:
    """Latest quiescent cut in ``calls`` with a single reachable state.

    Unknown calls before a cut stay free after it (the certificate is checked
    with every unknown call free), so only the known calls are folded: the
    state they reach is all the later calls need to start from, and any
    effect of the unknown ones can still be added after the cut.
    """
    best = (0, start)
    reach = {start}
    seg = 0  # first call of the current segment
    horizon = None  # latest return of a known call so far
    for j, c in enumerate(calls):
        if horizon is not None and horizon < c.invoked_at:
            # quiescent point before calls[j]: advance every state over calls[seg:j]
            known = [_strict(x) for x in calls[seg:j] if x.outcome is Outcome.OK]
            after: set[PackState] = set()
            for s in reach:
                found = budget.search(s, known, collect=True)
                if found.ok is None:
                    return best
                after |= found.finals
            if not after or len(after) > 64:
                return best
            reach, seg = after, j
            if len(reach) == 1:
                best = (j, next(iter(reach)))
        if c.outcome is Outcome.OK:
            end = _NEVER if c.completed_at is None else c.completed_at
            horizon = end if horizon is None else max(horizon, end)
    return best


def _fmt(result: object) -> str:
    if isinstance(result, bool):
        return "true" if result else "false"
    return "null" if result is None else str(result)


def _explain(start: PackState, folded: int, calls: tuple[Call, ...]) -> LinFailure:
    found = _search(start, [_strict(c) for c in calls], track=True, budget=_EXPLAIN_BUDGET)
    closest = tuple(calls[i] for i in found.closest)
    state, told = start, []
    for c in closest:
        _, state = model.step(state, c.op, c.result)
        told.append(f"{c.describe()} ({model.describe(state)})")
    if len(told) > _STORY:
        told = [f"{len(told)} calls long, ending ..."] + told[-_STORY:]
    placed = set(found.closest)
    rest = sorted((c for i, c in enumerate(calls) if i not in placed),
                  key=lambda c: _NEVER if c.completed_at is None else c.completed_at)
    # After a finished search, every call that could come next is refused
    # where the closest order ends, and the one that must come next is the
    # earliest to return.
    due = _NEVER if rest[0].completed_at is None else rest[0].completed_at
    refused = [c for c in rest
               if c.invoked_at <= due and not model.step(state, c.op, _strict(c)[1])[0]]
    stuck = refused[0] if refused else rest[0]
    expected, _ = model.apply(state, stuck.op)

    who = f"t{stuck.thread} {stuck.op}(p{stuck.purchase}) returned {_fmt(stuck.result)}"
    lead = f"Starting from {model.describe(start)}"
    if folded:
        lead += f" (what the {folded} earlier calls on p{stuck.purchase} leave)"
    said = f"the model says it returns {_fmt(expected)}"
    if len(calls) == 1:
        text = f"{lead}, {who}, but {said}."
    else:
        text = (f"{lead}, {who}, but no order of these {len(calls)} calls that respects "
                f"real time produces that: ")
        if not refused:  # the search ran out of steps before it was done
            text += (f"the longest order found in {found.steps} steps of search was "
                     f"{', '.join(told)}.")
        elif told:
            text += (f"the longest order found was {', '.join(told)}, after which "
                     f"{stuck.describe()} is impossible ({said}).")
        else:
            text += f"none of them can go first, and {stuck.describe()} cannot wait ({said})."
    return LinFailure(stuck.purchase, calls, closest, text, start, folded)
