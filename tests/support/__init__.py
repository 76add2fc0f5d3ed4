"""Helpers shared by the test suites: data builders, fixtures, process and browser drivers.

Importable as ``tests.support`` (pytest puts the repository root on the path),
so test modules never edit ``sys.path``.
"""
