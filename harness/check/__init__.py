"""Checkers: history (+ audit trail) -> Verdict. No database, no psycopg here."""

from __future__ import annotations

from typing import Iterable, Sequence

from ..history import AuditRow, Call, Pack
from .invariants import check_invariants
from .verdict import PROPERTIES, Verdict, Violation

__all__ = ["check", "Verdict", "Violation", "PROPERTIES"]

AUDIT_PROPERTIES = (
    "never-negative", "within-total", "no-lost-update", "conservation",
    "refuse-expired", "return-value", "refusal-justified", "no-raise",
)


def check(
    packs: Sequence[Pack],
    calls: Sequence[Call],
    audit: Sequence[AuditRow],
    finals: Sequence[int | None],
    *,
    allowed_errors: Iterable[str] = (),
    allow_unknown: bool = False,
    use_audit: bool = True,
    use_linearizability: bool = True,
) -> Verdict:
    """Every property at once. ``use_audit=False`` leaves only what the history
    alone can show (linearizability, and errors raised)."""
    violations: list[Violation] = []
    checked: list[str] = []
    if use_audit:
        violations += check_invariants(packs, calls, audit, finals, allowed_errors, allow_unknown)
        checked += AUDIT_PROPERTIES
    if use_linearizability:
        from .linearizability import check_linearizable

        result = check_linearizable(packs, calls)
        for f in result.failures:
            violations.append(Violation(
                "linearizable", f.explanation, tuple(c.call for c in f.calls), f.purchase))
        checked.append("linearizable")
    return Verdict(tuple(violations), tuple(checked))
