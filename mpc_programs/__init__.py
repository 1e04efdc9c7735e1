"""MPC programs run by the three computation parties (MPyC, Shamir, t=1 of 3), and the
client-side sharing that feeds them. Pure logic: no Qt, no HTTP framework."""
