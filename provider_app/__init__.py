"""The data provider's side of MPCStats.

``provider_app`` (no Qt) is the client library that the headless CLI and the
desktop app both drive; ``provider_app.gui`` only presents it.
"""
