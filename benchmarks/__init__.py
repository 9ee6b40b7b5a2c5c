"""Load benchmarks: `make bench` (python -m benchmarks.run). Scenarios live in benchmarks/scenarios.py."""
