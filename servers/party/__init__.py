"""A computation party: receives shares, verifies and computes inside MPC, publishes signed results."""
