"""The results API: collects the three parties' signed results, serves the ones they agree on."""
