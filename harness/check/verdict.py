"""What a checker concludes: violations of named properties, each with the calls
involved and one sentence a reviewer reads without the code."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PROPERTIES", "Violation", "Verdict"]

# Every property the checkers know, most fundamental first: a report leads with
# the first one broken.
PROPERTIES: dict[str, str] = {
    "never-negative": "the counter is never negative in any committed state",
    "within-total": "the counter never passes the pack's total (sessions_remaining >= 0)",
    "no-lost-update": "every committed write moves the counter by exactly +1 or -1",
    "conservation": "final = initial + successful uses - successful releases",
    "refuse-expired": "a use never succeeds on an expired pack",
    "return-value": "each call returns what it committed (the new value, or -1 / false for a no-op)",
    "refusal-justified": "a no-op (-1 / false) only when the counter was at its bound while the call ran",
    "no-raise": "no call raises an error",
    "linearizable": "every result is explained by some order of the calls that respects real time",
}


@dataclass(frozen=True)
class Violation:
    property: str
    message: str
    calls: tuple[int, ...] = ()  # call ids involved
    purchase: int | None = None

    def __post_init__(self) -> None:
        if self.property not in PROPERTIES:
            raise ValueError(f"unknown property {self.property!r}")


@dataclass(frozen=True)
class Verdict:
    violations: tuple[Violation, ...] = ()
    checked: tuple[str, ...] = field(default_factory=lambda: tuple(PROPERTIES))

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def broken(self) -> tuple[str, ...]:
        """Properties violated, in PROPERTIES order."""
        seen = {v.property for v in self.violations}
        return tuple(p for p in PROPERTIES if p in seen)

    def first(self) -> Violation | None:
        order = list(PROPERTIES)
        return min(self.violations, key=lambda v: order.index(v.property), default=None)

    def status(self) -> dict[str, str]:
        broken = set(self.broken)
        return {p: ("fail" if p in broken else "pass") for p in self.checked}
