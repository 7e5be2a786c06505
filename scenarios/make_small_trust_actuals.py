"""Make ``small-trust-actuals.csv``: three weeks of a small-trust migration, as exported (seeded).

Run from the repository root::

    python scenarios/make_small_trust_actuals.py

The migration team's daily counts (``date,migrated,failed,tickets_opened``) for the
first three weeks of ``small-trust.toml`` (the pilot week and two weeks at full
pace, up to Friday 22 March 2024), taken from one simulated replication of the plan
itself, so ``migsim forecast`` on them lands where the plan lands. Only days with
something to count are listed: a day without a row counts as zero. The same seed always
writes the same file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import sim

SEED = 20240322
AS_OF = "2024-03-22"
SCENARIO = Path(__file__).with_name("small-trust.toml")
OUT = Path(__file__).with_name("small-trust-actuals.csv")


def actuals(seed: int = SEED, as_of: str = AS_OF) -> pd.DataFrame:
    """One replication's daily table up to ``as_of``, in the columns the team exports."""
    daily = sim.simulate(sim.load(SCENARIO), seed, keep_mailboxes=False).daily
    counts = daily[["cutover_ok", "cutover_failed", "tickets_opened"]].sum(axis=1)
    days = daily[(daily["date"] <= as_of) & (counts > 0)]
    return pd.DataFrame(
        {
            "date": days["date"].dt.strftime("%Y-%m-%d"),
            "migrated": days["cutover_ok"],
            "failed": days["cutover_failed"],
            "tickets_opened": days["tickets_opened"],
        }
    )


if __name__ == "__main__":
    actuals().to_csv(OUT, index=False)
    print(f"wrote {OUT}")
