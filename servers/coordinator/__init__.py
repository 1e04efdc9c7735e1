"""The coordinator: the public registration API, Sybil resistance, batching and scheduling."""
