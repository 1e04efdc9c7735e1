"""Benchmarks. Each prints one JSON object on its last line; report medians."""

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "mpc": ("mpcstats.benchmarks.bench_mpc",
            "statistics over N secret-shared inputs, 3 local MPyC parties"),
    "scale": ("mpcstats.benchmarks.bench_scale",
              "the pool at 10,000 and 100,000 inputs (--full: 1,000,000): time, memory, store"),
    "notary": ("servers.notary.bench", "notarize through the relay on loopback, TLS 1.2 and 1.3"),
    "verify": ("mpcstats.benchmarks.bench_verify",
               "input verification (AES-GCM inside MPC) per batch"),
    "e2e": ("mpcstats.commands.bench_e2e", "the deployed system: N providers, then queries"),
    "dp": ("mpcstats.commands.bench_dp", "DP median and mean: rank / relative error and cost vs exact"),
    "load": ("mpcstats.commands.bench_load", "bounded load on the coordinator and results API"),
    "rogue": ("mpcstats.commands.bench_rogue",
              "one party replaced by a rogue with a valid certificate: every attack must abort cleanly"),
    "dealing": ("mpcstats.commands.bench_dealing",
                "the providers' verifiable dealing: a provider's cost, a party's check of N providers"),
    "malicious": ("mpcstats.commands.bench_malicious",
                  "well-formed deviations of one party (shift, wrong PRSS) at random positions: "
                  "detected or harmless, never a wrong signed result; and the overhead"),
}
