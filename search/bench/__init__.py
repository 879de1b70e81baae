"""Benchmarks (not tests): tuner overhead, input pipeline, time to accuracy; `cli` is scripts/bench.py."""
