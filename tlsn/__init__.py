"""Proxy-mode TLS notarization (pure logic: no Qt, no HTTP framework)."""
