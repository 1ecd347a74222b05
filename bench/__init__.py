"""Benchmarks against the DESIGN.md targets: `python -m bench.run [NAME ...] [--quick] [--postgres]`."""
