"""PySide6 desktop app on top of the provider client library (no protocol logic here)."""
