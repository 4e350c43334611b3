"""Benchmark: import 1,000,000 validated observations into a SQLite store.

Run ``python benchmarks/bench_store_import.py [--n 1000000] [--repeats 3]``. Set-up (not timed):
a BASICS store with enough enrolled, allocated subjects, copied afresh for each repeat. Timed:
``import_csv`` of a long-format CSV (parse + validate every value against the instrument
registry + insert + one audit row per observation, in one transaction). Prints the median
observations per second.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ssctrial.store import Allocation, Subject, init_store, open_store
from ssctrial.store._audit import now_utc

VISITS = ("BL", "W4", "W8", "W12", "W24")


def _items() -> list[tuple[str, str, int]]:
    from ssctrial.instruments import get_instrument

    out = []
    for code in ("MRSS", "HAQ_DI"):
        inst = get_instrument(code)
        for item in inst.items:
            if item.type == "integer" and item.max is not None:
                out.append((code, item.code, int(item.max)))
    return out


def _setup(folder: Path, n_obs: int) -> tuple[Path, Path]:
    items = _items()
    per_subject = len(items) * len(VISITS)
    n_subjects = -(-n_obs // per_subject)
    db = folder / "template.db"
    store = init_store(f"sqlite:///{db}", "basics", user="admin")
    store.add_user("inv", "investigator", user="admin")
    t0 = time.perf_counter()
    at = now_utc()
    with store.session() as s:  # bulk set-up of subjects and allocations (not what is measured)
        for i in range(n_subjects):
            sid = f"B{i:06d}"
            s.add(
                Subject(
                    subject_id=sid,
                    site_code="HUASHAN",
                    consent_date=pd.Timestamp("2023-01-01").date(),
                    sex="F",
                    strata='{"DURATION": "early", "SUBTYPE": "diffuse"}',
                    stratum="SUBTYPE=diffuse|DURATION=early",
                    status="randomised",
                    enrolled_at=at,
                    enrolled_by="inv",
                )
            )
        s.flush()
        for i in range(n_subjects):
            sid = f"B{i:06d}"
            s.add(
                Allocation(
                    subject_id=sid,
                    arm=("BARI4", "BARI2", "CTRL")[i % 3],
                    stratum="SUBTYPE=diffuse|DURATION=early",
                    list_id=None,
                    randomized_at=at,
                    randomized_by="inv",
                )
            )
    store.close()
    rng = np.random.default_rng(1)
    subj = np.repeat([f"B{i:06d}" for i in range(n_subjects)], per_subject)
    visit = np.tile(np.repeat(VISITS, len(items)), n_subjects)
    inst = np.tile([c for c, _, _ in items], n_subjects * len(VISITS))
    item = np.tile([c for _, c, _ in items], n_subjects * len(VISITS))
    hi = np.tile([m for _, _, m in items], n_subjects * len(VISITS))
    value = (rng.random(len(hi)) * (hi + 1)).astype(int)
    df = pd.DataFrame({"subject": subj, "visit": visit, "instrument": inst, "item": item, "value": value})
    df = df.iloc[:n_obs]
    csv = folder / "obs.csv"
    df.to_csv(csv, index=False)
    print(f"set-up: {n_subjects} subjects, {len(df)} observations in {time.perf_counter() - t0:.1f} s")
    return db, csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from ssctrial.store import import_csv

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        template, csv = _setup(folder, args.n)
        rates = []
        cpu_rates = []
        for r in range(args.repeats):
            db = folder / f"run{r}.db"
            shutil.copy(template, db)
            store = open_store(f"sqlite:///{db}")
            t0 = time.perf_counter()
            c0 = time.process_time()
            report = import_csv(store, csv, user="inv")
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - c0
            store.close()
            rates.append(report.n_imported / elapsed)
            cpu_rates.append(report.n_imported / cpu)
            print(
                f"run {r + 1}: {report.n_imported} observations in {elapsed:.2f} s wall "
                f"= {rates[-1]:,.0f} obs/s "
                f"({cpu:.2f} s CPU = {cpu_rates[-1]:,.0f} obs per CPU-second)"
            )
            db.unlink()
        print(
            f"median: {statistics.median(rates):,.0f} validated observations/s into SQLite (wall clock); "
            f"{statistics.median(cpu_rates):,.0f} per CPU-second (one core, less sensitive to machine load); "
            f"{args.n} per run, {args.repeats} runs"
        )


if __name__ == "__main__":
    main()
