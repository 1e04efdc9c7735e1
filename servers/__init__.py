"""Starlette servers of an MPCStats deployment: notary, coordinator, parties, results API, exchange simulator."""
