"""Drivers of workload operations against a database."""
