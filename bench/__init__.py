"""Benchmarks (``python -m bench``): numbers for the README, never asserts in tests/."""
