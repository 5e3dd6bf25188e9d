"""Generators of real-format provenance for the paper's example workflows.

They write exactly what the source systems write (``../shared/formats.md``), so that the README's
walk-through, the tests and the benchmarks exercise the real importers end to end.
"""
