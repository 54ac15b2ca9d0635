"""The speed and scale benchmark, not installed with the package: ``synthetic`` writes every
corpus's source files at official size in the real formats; ``run`` measures the builders, the
instruct view and ``build_collection`` (rows/s, seconds, peak memory). Results: docs/performance.md."""
