"""An interrupt raised where Python swallows it (a gc callback prints
"Exception ignored" and goes on) must still stop the run at the next example."""

from __future__ import annotations

import pytest

from harness import interrupt


def test_a_swallowed_interrupt_is_raised_again() -> None:
    interrupt.requested.clear()
    interrupt.check()  # nothing requested: nothing raised
    try:
        try:
            interrupt._handler(2, None)  # the signal lands inside a callback...
        except KeyboardInterrupt:
            pass  # ...which swallows it
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    finally:
        interrupt.requested.clear()
