"""Input verification inside MPC: AES-GCM over the notarized record (GF(2^8) arithmetic,
daBits) and the ingestion check of a provider's share layout."""
