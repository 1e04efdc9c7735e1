"""Inputs as the parties hold them: the statistics field, the exact encoding of a value and
its one-hot layout, the provider's Shamir sharing, and each party's share store."""
