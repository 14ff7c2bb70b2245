"""Workloads as plain data (``Program``), the operations they call, and the
Hypothesis strategies that draw them."""

from .program import OpCall, Program
from .ops import OPS, Step

__all__ = ["OpCall", "Program", "OPS", "Step"]
