"""Shared pytest fixtures.

Notarization (tlsn / notary / exchange simulator) fixtures live in ``tlsn_fixtures.py``.
"""

from tlsn_fixtures import (exchange_tls12, exchange_tls13, exchange_tls13_aes128, exchanges,  # noqa: F401
                           notaries, notarized, notary_factory, sim_accounts, test_ca)
