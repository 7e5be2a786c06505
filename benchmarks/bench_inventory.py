"""Reading a 2.1M-row inventory, and a replication from it against one from drawn sizes.

    python benchmarks/bench_inventory.py [--mailboxes 2100000] [--runs 3] [--keep DIR]

Writes a made-up NHSmail-sized inventory (rows in address order, not grouped
by organisation, as exports come) as Parquet and CSV in a temporary folder,
then prints the median wall seconds of: reading each (no cache), loading the
reference scenario on it, and one replication of the reference scenario from
drawn sizes and from the inventory (summary only, and with the mailbox table).
It also writes the same mailboxes as Exchange exports them (``Get-MailboxStatistics
| Export-Csv``: a #TYPE line, every field quoted, sizes as text
``1.234 GB (1,325,123,456 bytes)``, recoverable items, RecipientTypeDetails) and
times reading that.
Targets (issues 12 and 16): Parquet <= 1 s, CSV <= 5 s, the Exchange export <= 5 s;
a replication from an inventory as fast as one from drawn sizes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

import sim
from sim.model.inventory import read_inventory
from sim.model.scenario import from_dict

REFERENCE = Path(__file__).resolve().parents[1] / "scenarios" / "nhsmail-2020.toml"


def make_inventory(mailboxes: int, organisations: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0.0, 1.5, organisations)
    org_sizes = 1 + rng.multinomial(mailboxes - organisations, weights / weights.sum())
    organisation = np.repeat(np.arange(organisations), org_sizes)
    sigma = 1.2
    size_gb = np.minimum(rng.lognormal(np.log(1.1) - sigma**2 / 2, sigma, mailboxes), 100.0)
    items = np.round(size_gb * rng.lognormal(np.log(12_000), 0.6, mailboxes)).astype(np.int64)
    frame = pd.DataFrame(
        {
            "mailbox": [f"user.{i:07d}@nhs.net" for i in rng.permutation(mailboxes)],
            "organisation": [f"Organisation {o:05d}" for o in organisation],
            "size_gb": np.round(size_gb, 4),
            "item_count": items,
            "legacy": rng.random(mailboxes) < 0.1,
        }
    )
    return frame.sort_values("mailbox", kind="stable", ignore_index=True)


def exchange_export(frame: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    """The same mailboxes as a text-size mailbox statistics export (bytes = size x 1024^3)."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    size = np.round(frame["size_gb"].to_numpy() * 1024**3).astype(np.int64)
    deleted = (size * rng.beta(1.0, 30.0, n)).astype(np.int64)

    def text(values: np.ndarray) -> list[str]:
        return [f"{b / 1024**3:.3f} GB ({b:,} bytes)" for b in values.tolist()]

    return pd.DataFrame(
        {
            "DisplayName": frame["mailbox"].str.split("@").str[0],
            "PrimarySmtpAddress": frame["mailbox"],
            "RecipientTypeDetails": rng.choice(["UserMailbox", "SharedMailbox", "RoomMailbox"], n),
            "Department": frame["organisation"],
            "ItemCount": frame["item_count"],
            "TotalItemSize": text(size),
            "DeletedItemCount": (frame["item_count"] // 40).astype(np.int64),
            "TotalDeletedItemSize": text(deleted),
        }
    )


def median_seconds(call, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds (CPU time shows the work when the machine is shared)."""
    times, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(times), statistics.median(cpu)


def replication_seconds(scenario: sim.Scenario, runs: int, keep: bool) -> float:
    model = sim.Model(scenario)
    seeds = np.random.SeedSequence(scenario.scenario.seed).spawn(runs)
    times = []
    for i, seed in enumerate(seeds):
        started = time.perf_counter()
        model.replicate(seed, keep_mailboxes=keep, replication=i)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=2_100_000)
    parser.add_argument("--organisations", type=int, default=22_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Write the inventory files here and keep them.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        frame = make_inventory(args.mailboxes, args.organisations)
        parquet, csv = folder / "inventory.parquet", folder / "inventory.csv"
        frame.to_parquet(parquet, index=False)
        frame.to_csv(csv, index=False)
        megabytes = [p.stat().st_size / 1e6 for p in (parquet, csv)]
        print(
            f"{len(frame):,} mailboxes written in {time.perf_counter() - started:.1f} s "
            f"(Parquet {megabytes[0]:.0f} MB, CSV {megabytes[1]:.0f} MB)"
        )
        export = folder / "exchange-export.csv"
        body = exchange_export(frame).to_csv(index=False, quoting=1)
        export.write_text("#TYPE Microsoft.Exchange.MailboxStatistics\n" + body, "utf-8-sig")
        del frame, body
        print(f"Exchange export written ({export.stat().st_size / 1e6:.0f} MB, text sizes)")
        for path in (parquet, csv, export):
            wall, cpu = median_seconds(
                lambda p=path: (
                    read_inventory(p, organisation_column="Department")
                    if p == export
                    else read_inventory(p)
                ),
                args.runs,
            )
            print(
                f"read {path.name:22}: {wall:.3f} s wall, {cpu:.3f} s CPU (median of {args.runs})"
            )

        raw = tomllib.loads(REFERENCE.read_text(encoding="utf-8"))
        drawn = from_dict(raw, source=str(REFERENCE))
        raw["population"] = {"inventory": str(parquet)}
        started = time.perf_counter()
        listed = from_dict(raw, source="inventory")
        print(
            f"load the reference scenario on the Parquet inventory: "
            f"{time.perf_counter() - started:.3f} s (read once, then cached)"
        )
        for keep in (False, True):
            label = "with mailbox table" if keep else "summary only"
            a = replication_seconds(drawn, args.runs, keep)
            b = replication_seconds(listed, args.runs, keep)
            print(
                f"replication, {label:18}: drawn sizes {a:.3f} s, inventory {b:.3f} s "
                f"(median of {args.runs})"
            )


if __name__ == "__main__":
    main()
