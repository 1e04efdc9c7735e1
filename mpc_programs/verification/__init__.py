"""Input verification inside MPC: AES-GCM over the notarized record (GF(2^8) arithmetic,
daBits), the ingestion check of a provider's share layout, and the records' templates."""
