"""Helpers the tests share (not fixtures: plain functions to import)."""
