"""Conformance runs: a plan of meter events, checks on the display under test, reports."""
