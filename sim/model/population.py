"""The mailboxes to move: sizes, organisations and legacy desktop clients.

NHSmail had 2.1 million mailboxes in just over 22,000 organisations, from
hospital trusts with tens of thousands of staff to GP practices with a dozen.
Before the real list exists, mailbox sizes are drawn lognormal (mean about
1.1 GB, a long tail of large ones, capped by the service's limit);
organisation sizes are heavy-tailed too (lognormal weights); about a tenth of
users still ran a legacy client. Not every mailbox is a person: ``population.kinds``
gives shares of kinds (user, shared, application, ...), default all users. Once the
list exists, ``population.inventory``
names it and the mailboxes come from the file (``sim.model.inventory``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.model.inventory import load_inventory
from sim.model.scenario import DEFAULT_KIND, Population, Throttle


@dataclass(frozen=True)
class Mailboxes:
    """One entry per mailbox, mailbox indices 0..n-1.

    From an inventory, ``ids`` holds the real mailbox ids, ``organisation_names``
    the name of each organisation code and ``item_count`` the items per mailbox.
    """

    size_gb: np.ndarray  # float64
    organisation: np.ndarray  # int32, organisation codes 0..k-1, non-decreasing by index
    legacy: np.ndarray  # bool
    item_count: np.ndarray | None = None  # int64
    ids: pa.Array | None = None  # strings; None: the ids are the indices
    organisation_names: np.ndarray | None = None  # None: the codes are the names
    kind: np.ndarray | None = None  # int8 codes into ``kind_names``; None: all the first kind
    kind_names: tuple[str, ...] = (DEFAULT_KIND,)

    def __len__(self) -> int:
        return len(self.size_gb)

    def kind_column(self) -> pd.Categorical:
        """The ``kind`` column of the mailbox table."""
        codes = np.zeros(len(self), dtype=np.int8) if self.kind is None else self.kind
        return pd.Categorical.from_codes(codes, categories=list(self.kind_names))

    def id_column(self) -> np.ndarray | pd.api.extensions.ExtensionArray:
        """The ``mailbox`` column of the mailbox table: real ids, else the indices."""
        if self.ids is None:
            return np.arange(len(self), dtype=np.int64)
        return pd.arrays.ArrowExtensionArray(self.ids)

    def organisation_column(self) -> np.ndarray | pd.Categorical:
        """The ``organisation`` column: names (categorical) from an inventory, else codes."""
        if self.organisation_names is None:
            return self.organisation
        return pd.Categorical.from_codes(self.organisation, categories=self.organisation_names)

    def own_pace_gb(self, throttle: Throttle, positions: np.ndarray) -> np.ndarray | None:
        """The work one move does at the nominal per-move rate, for mailboxes ``positions``.

        A move needs max(size / GB rate, items / item rate) hours, i.e. at the GB
        rate the work of max(size, items x GB rate / item rate) GB. None (the
        sizes) without item counts or ``throttle.per_move_items_per_hour``.
        """
        items_per_hour = throttle.per_move_items_per_hour
        if self.item_count is None or items_per_hour is None:
            return None
        gb_per_item = throttle.per_move_gb_per_hour / items_per_hour
        return np.maximum(self.size_gb[positions], self.item_count[positions] * gb_per_item)


def lognormal_mu(mean: float, sigma: float) -> float:
    """The log-scale location giving a lognormal of this mean."""
    return float(np.log(mean) - sigma**2 / 2)


def draw_sizes_gb(spec: Population, rng: np.random.Generator) -> np.ndarray:
    """Lognormal sizes with the given mean and sigma, capped at ``max``."""
    size = spec.size_gb
    if size.sigma == 0:
        return np.full(spec.mailboxes, min(size.mean, size.max))
    sizes = rng.lognormal(lognormal_mu(size.mean, size.sigma), size.sigma, spec.mailboxes)
    return np.minimum(sizes, size.max, out=sizes)


def draw_organisation_sizes(spec: Population, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed organisation sizes, each at least one mailbox, summing to ``mailboxes``."""
    k = spec.organisations
    weights = rng.lognormal(0.0, spec.organisation_size_sigma, k)
    return 1 + rng.multinomial(spec.mailboxes - k, weights / weights.sum())


def draw_mailboxes(spec: Population, streams: dict[str, np.random.Generator]) -> Mailboxes:
    """The whole population, from its own random streams (or from the inventory)."""
    if spec.inventory is not None:
        return inventory_mailboxes(spec, streams)
    org_sizes = draw_organisation_sizes(spec, streams["organisations"])
    organisation = np.repeat(np.arange(len(org_sizes), dtype=np.int32), org_sizes)
    legacy = streams["legacy"].random(spec.mailboxes) < spec.legacy_client_share
    sizes = draw_sizes_gb(spec, streams["sizes"])
    kind, kind_names = draw_kinds(spec, streams.get("kinds"))
    return Mailboxes(sizes, organisation, legacy, kind=kind, kind_names=kind_names)


def draw_kinds(
    spec: Population, rng: np.random.Generator | None
) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Each mailbox's kind, drawn independently by ``population.kinds`` (its own stream)."""
    shares = spec.kind_shares()
    names = tuple(shares)
    if len(names) == 1:
        return None, names
    edges = np.cumsum(list(shares.values()))
    edges /= edges[-1]
    uniform = rng.random(spec.mailboxes)
    # The kind whose cumulative share first exceeds the uniform (few kinds: comparisons,
    # into one bool buffer added as int8: no bool-to-int8 cast, no array per kind).
    codes = np.zeros(spec.mailboxes, dtype=np.int8)
    above = np.empty(spec.mailboxes, dtype=bool)
    for edge in edges[:-1]:
        codes += np.greater_equal(uniform, edge, out=above).view(np.int8)
    return codes, names


def inventory_mailboxes(spec: Population, streams: dict[str, np.random.Generator]) -> Mailboxes:
    """The inventory's mailboxes; legacy clients drawn only if it has no legacy column."""
    inventory = load_inventory(spec.inventory, organisation_column=spec.organisation_column)
    legacy = inventory.legacy
    if legacy is None:
        legacy = streams["legacy"].random(len(inventory)) < spec.legacy_client_share
    kind, kind_names = _inventory_kinds(getattr(inventory, "kind", None))
    return Mailboxes(
        size_gb=inventory.size_gb,
        organisation=inventory.organisation,
        legacy=legacy,
        item_count=inventory.item_count,
        ids=inventory.mailbox,
        organisation_names=inventory.organisation_names,
        kind=kind,
        kind_names=kind_names,
    )


def _inventory_kinds(kinds) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Codes and names of an inventory's ``kind`` column (strings or a categorical)."""
    if kinds is None:
        return None, (DEFAULT_KIND,)
    if isinstance(kinds, pa.ChunkedArray | pa.Array):
        kinds = kinds.to_pandas()
    codes, names = pd.factorize(pd.Series(kinds).fillna(DEFAULT_KIND).astype(str))
    return codes.astype(np.int8), tuple(str(name) for name in names)
