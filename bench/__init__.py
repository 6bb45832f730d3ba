"""Benchmarks for alpha01. Run with `scripts/bench` (see bench/__main__.py)."""
