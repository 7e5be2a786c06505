"""Make ``inventory-example.csv``: a made-up but realistic mailbox export (seeded).

Run from the repository root::

    python scenarios/make_inventory_example.py

3,000 NHS-style mailboxes (firstname.lastname@nhs.net) in 30 organisations of
heavy-tailed size (one acute trust, a few community and mental-health trusts,
many GP practices); sizes lognormal with mean ~1.1 GB capped at 50 GB; item
counts ~ size x a lognormal items-per-GB (median 12,000, i.e. ~85 KB an item:
the DOMAIN.md examples hold 11,000 and 51,000 items a GB); a tenth of users on
a legacy client, more in GP practices. The same seed always writes the same file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 2024
MAILBOXES = 3_000
OUT = Path(__file__).with_name("inventory-example.csv")

FIRST = """olivia amelia isla ava mia ivy lily sophia grace freya emily ella poppy jack noah
oliver leo george harry oscar arthur charlie muhammad thomas james william henry alfie
joshua priya aisha fatima raj arjun wei chen kwame chidi siobhan niamh rhys dylan""".split()  # noqa: SIM905
LAST = """smith jones taylor brown williams wilson johnson davies patel wright robinson
thompson evans walker white roberts green hall wood jackson clarke khan ahmed singh
begum hughes edwards lewis morgan murphy obrien kelly okafor mensah nguyen""".split()  # noqa: SIM905
TRUSTS = [
    "St Elsewhere NHS Foundation Trust",
    "Northshire Community Health NHS Trust",
    "Riverside Mental Health NHS Trust",
    "Westbridge Ambulance Service NHS Trust",
]
PLACES = """Abbey Ashford Beechwood Brook Castle Cedar Church Elm Fairfield Grange Hill
Kingsway Lakeside Larch Manor Meadow Mill Oak Park Priory Riverside Rowan Station
Victoria Willow Woodland""".split()  # noqa: SIM905


def organisations(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """30 organisation names and their mailbox counts (heavy-tailed, summing to MAILBOXES)."""
    practices = [f"{place} Medical Practice" for place in rng.choice(PLACES, 26, replace=False)]
    names = TRUSTS + practices
    weights = np.concatenate([[40.0, 12.0, 8.0, 5.0], rng.lognormal(0.0, 0.5, 26)])
    sizes = 5 + rng.multinomial(MAILBOXES - 5 * len(names), weights / weights.sum())
    return names, sizes


def addresses(rng: np.random.Generator, count: int) -> list[str]:
    """Unique firstname.lastname@nhs.net, numbered from the second holder of a name on."""
    seen: dict[str, int] = {}
    out = []
    for first, last in zip(rng.choice(FIRST, count), rng.choice(LAST, count), strict=True):
        stem = f"{first}.{last}"
        seen[stem] = seen.get(stem, 0) + 1
        out.append(f"{stem}{seen[stem] if seen[stem] > 1 else ''}@nhs.net")
    return out


def main() -> None:
    rng = np.random.default_rng(SEED)
    names, sizes = organisations(rng)
    organisation = np.repeat(np.arange(len(names)), sizes)
    sigma = 1.2
    size_gb = np.minimum(rng.lognormal(np.log(1.1) - sigma**2 / 2, sigma, MAILBOXES), 50.0)
    items_per_gb = rng.lognormal(np.log(12_000), 0.6, MAILBOXES)
    item_count = np.maximum(np.round(size_gb * items_per_gb), 1).astype(int)
    gp = organisation >= len(TRUSTS)
    legacy = rng.random(MAILBOXES) < np.where(gp, 0.18, 0.07)
    # An export lists mailboxes alphabetically, not by organisation.
    frame = pd.DataFrame(
        {
            "mailbox": addresses(rng, MAILBOXES),
            "organisation": np.asarray(names)[organisation],
            "size_gb": np.round(size_gb, 3),
            "item_count": item_count,
            "legacy": np.where(legacy, "true", "false"),
        }
    ).sort_values("mailbox", kind="stable")
    frame.to_csv(OUT, index=False)
    print(f"wrote {OUT} ({len(frame):,} mailboxes, {frame['size_gb'].sum():,.0f} GB)")


if __name__ == "__main__":
    main()
