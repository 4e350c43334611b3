"""Benchmark of ssctrial.power: simulated-and-analysed BASICS-size trials per second.

BASICS size: 3 arms x 16 patients (48), 10 % uniform dropout, the study file's effects.
Prints the median of repeated runs for
* the ANCOVA fast path in one process (and on 2 Dask workers),
* MMRM (unstructured, REML, Kenward-Roger) in one process and on 1 and 2 Dask workers,
and the speed-up from 1 to 2 Dask workers. Run: ``python benchmarks/bench_power.py [--quick]``.
The machine may be shared: timings are wall-clock and noisy.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from ssctrial.power import PowerScenario, run_power


def _rate(scenario, sims, repeats, **kw):
    rates = []
    for r in range(repeats):
        t = time.perf_counter()
        run_power(scenario, sims=sims, seed=r, include_null=False, **kw)
        rates.append(sims / (time.perf_counter() - t))
    return statistics.median(rates), rates


def main() -> None:
    quick = "--quick" in sys.argv
    reps = 3 if quick else 5
    print(
        f"ssctrial.power benchmark (cpu count {os.cpu_count()}, "
        f"load {os.getloadavg()[0]:.1f}); median of {reps}"
    )
    ancova = PowerScenario(n=16, dropout=0.1, method="ancova")
    mmrm = PowerScenario(n=16, dropout=0.1, method="mmrm")
    run_power(ancova, sims=2000, include_null=False)  # warm-up (imports, study file)
    n_anc = 20_000 if quick else 100_000
    med, rates = _rate(ancova, n_anc, reps, chunk_size=5000)
    print(
        f"ANCOVA fast path, in-process: {med:,.0f} trials/s (runs: {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    n_mm = 200 if quick else 1000
    med_mm, rates = _rate(mmrm, n_mm, reps, chunk_size=100)
    print(
        f"MMRM-KR, in-process:          {med_mm:,.0f} trials/s "
        f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})"
    )

    from dask.distributed import Client, LocalCluster

    out = {}
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cl,
            Client(cl) as client,
        ):
            run_power(
                mmrm, sims=workers * 20, chunk_size=10, include_null=False, client=client
            )  # warm workers
            run_power(ancova, sims=workers * 2000, chunk_size=1000, include_null=False, client=client)
            a, _ = _rate(ancova, n_anc, reps, chunk_size=5000, client=client)
            m, _ = _rate(mmrm, n_mm, reps, chunk_size=50, client=client)
            out[workers] = (a, m)
            print(f"Dask {workers} worker(s): ANCOVA {a:,.0f} trials/s, MMRM-KR {m:,.0f} trials/s")
    print(
        f"speed-up 1 -> 2 Dask workers: ANCOVA x{out[2][0] / out[1][0]:.2f}, "
        f"MMRM-KR x{out[2][1] / out[1][1]:.2f}"
    )
    print("targets: ANCOVA >= 20,000 trials/s on 2 cores; MMRM-KR >= 200 trials/s")


if __name__ == "__main__":
    main()
