"""The mailboxes to move: sizes, organisations and legacy desktop clients.

NHSmail had 2.1 million mailboxes in just over 22,000 organisations, from
hospital trusts with tens of thousands of staff to GP practices with a dozen.
Mailbox sizes are lognormal (mean about 1.1 GB, a long tail of large ones,
capped by the service's limit); organisation sizes are heavy-tailed too
(lognormal weights); about a tenth of users still ran a legacy client.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.scenario import Population


@dataclass(frozen=True)
class Mailboxes:
    """One entry per mailbox, mailbox ids 0..n-1."""

    size_gb: np.ndarray  # float64
    organisation: np.ndarray  # int32, organisation ids 0..k-1, sorted by mailbox id
    legacy: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.size_gb)


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
    """The whole population, from its own random streams."""
    org_sizes = draw_organisation_sizes(spec, streams["organisations"])
    organisation = np.repeat(np.arange(len(org_sizes), dtype=np.int32), org_sizes)
    legacy = streams["legacy"].random(spec.mailboxes) < spec.legacy_client_share
    return Mailboxes(draw_sizes_gb(spec, streams["sizes"]), organisation, legacy)
