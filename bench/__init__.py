"""Benchmarks of `formkiq-dr`'s table scans against moto_server: `python -m bench.run`.

Not part of the package and not a test: a measurement, run by `make bench`, whose figures go in
docs/benchmarks.md.
"""
