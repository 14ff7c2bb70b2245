"""Consumers of a history and its verdict: text transcript, report files."""
