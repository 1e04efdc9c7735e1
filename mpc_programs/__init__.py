"""MPC programs run by the three computation parties (MPyC, Shamir, t=1 of 3), and the
client-side sharing that feeds them. Pure logic: no Qt, no HTTP framework.

Grouped by concern, each depending only on the ones above it:

* ``shares`` — the statistics field, the exact encoding of a value, the provider's Shamir
  sharing, each party's share store;
* ``runtime`` — MPyC hardened against a dishonest peer, the raw-share protocols and secure
  types the programs build on, and the party process that runs one job;
* ``verification`` — AES-GCM inside MPC over the notarized record, and the ingestion check;
* ``statistics`` — the query language, exact and DP statistics, their plaintext reference.
"""
