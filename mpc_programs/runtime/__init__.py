"""A computation party's MPC runtime: MPyC hardened against a dishonest peer (strict codec,
TLS bound to party numbers), the raw-share protocols the programs build on, and the process
that runs one job."""
