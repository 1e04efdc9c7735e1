"""The notary: relays TLS bytes to allow-listed servers, checks the handshake, signs attestations over ciphertext."""
