"""Concurrency verification of counter functions on a real PostgreSQL.

Data flows one way: workload -> executor -> history -> checker -> report.
"""

__version__ = "0.1.0"
