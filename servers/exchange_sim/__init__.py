"""Exchange simulator: a loopback HTTPS server with a test CA that answers like Binance (tests and demo only)."""
