"""Benchmarks of the explorer library on the machine they run on: ``python -m benchmarks [NAME ...] [--quick]``.

Each benchmark is one module exposing ``NAME``, ``NEEDS_SCIFACT`` and ``run(ctx) -> dict``; the harness
(:mod:`benchmarks.common`) adds machine information (CPU model and flags, cores, RAM, load average, library
versions, date) and writes ``benchmarks/results/<name>.json``. The machine this project is built on has two
cores shared with other work, so every comparison is a ratio of two things measured in the same process,
back to back, and timings are medians of repeats; the load average is recorded with each result.
"""
