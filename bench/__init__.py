"""The benchmarks: each module is a script (`python -m bench.<name>` from the repository root).

Every benchmark runs its named baseline in the same run, in rounds, and saves
JSON under bench/results/; `bench.run_all` runs them all and `bench.report`
writes docs/benchmarks/README.md. Importable as a package, so tests import the
scripts' functions without touching ``sys.path``.
"""
