"""Benchmarks (`make bench`): each module has a `run(report)` that prints its figures; they are not timed tests."""
