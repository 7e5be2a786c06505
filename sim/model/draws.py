"""The dice of one replication: one random stream per stochastic process.

A replication gets one ``numpy.random.SeedSequence``; each process below draws
from its own child of it, so two scenarios run with the same seed share their
random numbers (common random numbers) and nothing depends on how replications
are spread over workers. New streams are appended to ``STREAMS``, never inserted,
so that adding one changes no other stream.

Mailbox-level dice are drawn by mailbox id, not by queue position or by event:
mailbox 17 fails its second attempt on the same uniform whatever the batch plan,
the throttle or the failure rate of the day. Example: with ``failures.rate =
0.003`` a mailbox whose second-attempt uniform is 0.001 fails that attempt; on a
day a risk doubles the rate (``World.failure_factor_by_day``) so does one at 0.005.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.model.scenario import Failures, HandleMinutes

STREAMS = (
    "sizes",
    "organisations",
    "legacy",
    "selection",
    "failures",
    "tickets",
    "ticket_times",
    "handle_times",
    "persistent",
    "initial_backlog",
    "kinds",
)


def stream_seeds(seed: np.random.SeedSequence) -> dict[str, np.random.SeedSequence]:
    """One child sequence per stochastic process: what ``seed.spawn`` gives a fresh
    sequence, without mutating ``seed`` (so replicating twice gives the same result)."""
    return {name: _child(seed, i) for i, name in enumerate(STREAMS)}


def _child(seed: np.random.SeedSequence, key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, key))


class FailureDice:
    """Whether a cutover attempt fails: per mailbox, one uniform per attempt.

    Attempt ``k`` (1-based) of mailbox ``i`` fails when ``i`` is persistent (a share
    ``persistent_share`` of mailboxes: corrupt or oversized items) or when its
    ``k``-th uniform is below the day's failure rate. Attempt ``k``'s uniforms come
    from their own child of the failures stream, drawn for every mailbox id at
    once, and only when some mailbox first reaches attempt ``k``. Mailboxes are
    addressed by queue position (``queue`` maps positions to ids); first attempts,
    nearly all of them, read arrays already put in queue order.
    """

    def __init__(
        self,
        failures: Failures,
        seeds: dict[str, np.random.SeedSequence],
        mailboxes: int,
        queue: np.ndarray,
    ) -> None:
        self._seed = seeds["failures"]
        self._mailboxes = mailboxes
        self._queue = queue
        self._by_attempt: list[np.ndarray] = []
        self._first_by_position = (
            _in_queue_order(self._uniforms(1), queue) if failures.rate > 0 else None
        )
        share = failures.persistent_share
        # By mailbox id, and by queue position for the evening look-ups.
        self.persistent = (
            np.random.default_rng(seeds["persistent"]).random(mailboxes) < share
            if share > 0
            else None
        )
        self._persistent_by_position = (
            None if self.persistent is None else _in_queue_order(self.persistent, queue)
        )

    def fails(self, positions: np.ndarray, attempt: np.ndarray, rate: float) -> np.ndarray:
        """Bool per attempt: does the mailbox at ``positions[j]`` fail attempt ``attempt[j]``?"""
        top = int(attempt.max()) if len(attempt) else 0
        if rate > 0 and top == 1:  # the usual evening: everyone on a first attempt
            failed = self._first_by_position[positions] < rate
        else:
            failed = np.zeros(len(positions), dtype=bool)
            if rate > 0:
                first = attempt == 1
                failed[first] = self._first_by_position[positions[first]] < rate
                for k in range(2, top + 1):
                    these = attempt == k
                    ids = self._queue[positions[these]]
                    failed[these] = self._uniforms(k)[ids] < rate
        if self._persistent_by_position is not None:
            failed |= self._persistent_by_position[positions]
        return failed

    def _uniforms(self, attempt: int) -> np.ndarray:
        while len(self._by_attempt) < attempt:
            rng = np.random.default_rng(_child(self._seed, len(self._by_attempt)))
            self._by_attempt.append(rng.random(self._mailboxes))
        return self._by_attempt[attempt - 1]


@numba.njit(cache=True)
def _in_queue_order(by_id: np.ndarray, queue: np.ndarray) -> np.ndarray:
    """``by_id[queue]``, the dice put in queue order: on 2.1M mailboxes about two thirds
    of ``np.take``'s time, which checks each index for bounds and sign (queue ids are
    mailbox ids, in range by construction)."""
    out = np.empty(len(queue), dtype=by_id.dtype)
    for position in range(len(queue)):
        out[position] = by_id[np.uint64(queue[position])]
    return out


def arrival_minutes(hour_cdf: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """Local minutes after midnight, by hourly arrival weights (``hour_cdf``: their CDF)."""
    u = rng.random(count)
    hour = np.minimum(np.searchsorted(hour_cdf, u, side="right"), 23)
    below = np.where(hour > 0, hour_cdf[hour - 1], 0.0)
    within = (u - below) / np.maximum(hour_cdf[hour] - below, 1e-12)
    return (hour + np.clip(within, 0, 1)) * 60.0


def handle_hours(handle: HandleMinutes, rng: np.random.Generator, count: int) -> np.ndarray:
    """Lognormal ticket handle times, in hours."""
    return rng.lognormal(np.log(handle.median), handle.sigma, count) / 60.0
