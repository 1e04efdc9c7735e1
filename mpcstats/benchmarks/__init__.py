"""Benchmarks and local pools for tests and demos: they drive the library, never part of it."""
