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

from sim.model.arrays import take
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

_NO_UNIFORMS, _NO_FLAGS = np.empty(0), np.empty(0, dtype=bool)  # nothing to read


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
    from their own child of the failures stream, by mailbox id: the first attempt's
    drawn for every mailbox at once, a later attempt's read for the few who retry
    from their places in its stream (the same numbers). Mailboxes are addressed by
    queue position (``queue`` maps positions to ids); first attempts, nearly all of
    them, read arrays already put in queue order.
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
        self._start_by_attempt = np.zeros((0, 4), dtype=np.uint64)  # see _stream_starts
        # By queue position, the uniform of each mailbox's next attempt: its first, until
        # it fails one and will retry (``retry``). Each replication's own array.
        self._next_by_position = take(self._uniforms(1), queue) if failures.rate > 0 else None
        share = failures.persistent_share
        # By mailbox id, and by queue position for the evening look-ups.
        self.persistent = (
            np.random.default_rng(seeds["persistent"]).random(mailboxes) < share
            if share > 0
            else None
        )
        self._persistent_by_position = (
            None if self.persistent is None else take(self.persistent, queue)
        )

    def evening_tables(self, rate: float) -> tuple[np.ndarray, np.ndarray]:
        """What an evening's switch-overs read, by queue position: the uniform of each
        mailbox's next attempt (its first, until it retries: see ``retry``), and who is
        persistent. An attempt fails if persistent or if its uniform is below ``rate``.
        Empty arrays where nothing is to be read (``rate`` 0, no persistent share)."""
        persistent = self._persistent_by_position
        return (
            self._next_by_position if rate > 0 else _NO_UNIFORMS,
            _NO_FLAGS if persistent is None else persistent,
        )

    def retry(self, positions: np.ndarray, failed_attempt: np.ndarray) -> None:
        """The mailboxes at ``positions`` failed attempt ``failed_attempt`` and will try again:
        their next attempt's uniforms, a few of millions read from their places in its stream,
        replace the uniforms they have used in ``_next_by_position``."""
        if self._next_by_position is None or not len(positions):
            return  # no failure rate: only the persistent fail
        attempt = failed_attempt.astype(np.int64) + 1
        self._next_by_position[positions] = _stream_uniforms(
            self._stream_starts(int(attempt.max())),
            attempt,
            self._queue[positions],
            _PCG64_JUMPS,
            _PCG64_SUMS,
        )

    def _stream_starts(self, attempts: int) -> np.ndarray:
        """Row k: where attempt k's uniforms start (``_pcg64_start``), for k <= ``attempts``."""
        if len(self._start_by_attempt) <= attempts:
            rows = [np.zeros(4, dtype=np.uint64)]  # no attempt 0
            rows += [_pcg64_start(_child(self._seed, k - 1)) for k in range(1, attempts + 1)]
            self._start_by_attempt = np.array(rows)
        return self._start_by_attempt

    def _uniforms(self, attempt: int) -> np.ndarray:
        while len(self._by_attempt) < attempt:
            rng = np.random.default_rng(_child(self._seed, len(self._by_attempt)))
            self._by_attempt.append(rng.random(self._mailboxes))
        return self._by_attempt[attempt - 1]


def arrival_minutes(hour_cdf: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """Local minutes after midnight, by hourly arrival weights (``hour_cdf``: their CDF)."""
    return _minutes_of_uniforms(hour_cdf, rng.random(count))


@numba.njit(cache=True)
def _minutes_of_uniforms(hour_cdf: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Each uniform's hour by the CDF, and its place within that hour's share: one pass over
    an evening's few tickets, where numpy took a dozen calls."""
    minutes = np.empty(len(uniforms))
    for j, u in enumerate(uniforms):
        hour = min(np.searchsorted(hour_cdf, u, side="right"), 23)
        below = hour_cdf[hour - 1] if hour > 0 else 0.0
        within = (u - below) / max(hour_cdf[hour] - below, 1e-12)
        minutes[j] = (hour + min(max(within, 0.0), 1.0)) * 60.0
    return minutes


def handle_hours(handle: HandleMinutes, rng: np.random.Generator, count: int) -> np.ndarray:
    """Lognormal ticket handle times, in hours."""
    return rng.lognormal(np.log(handle.median), handle.sigma, count) / 60.0


# -- random access into a stream ------------------------------------------------------------------
#
# ``default_rng(seed).random(n)[ids]`` for a few ids of millions, without drawing the rest.
# numpy's PCG64 is a 128-bit LCG, state <- state * MULTIPLIER + increment, whose i-th step's
# state gives the i-th 64-bit output (xor-shift-low, random rotation) and the i-th uniform its
# top 53 bits. Jumping i steps composes the stepped maps for the powers of two in i: 2^j steps
# map x to A_j x + increment G_j, A_j = MULTIPLIER^(2^j), G_j = 1 + MULTIPLIER + ... + A_j / M.
# Tests compare it with numpy's own stream.

_PCG64_MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
_MASK64, _MASK128 = (1 << 64) - 1, (1 << 128) - 1


def _pcg64_halves(values: list[int]) -> np.ndarray:
    return np.array([[value >> 64, value & _MASK64] for value in values], dtype=np.uint64)


def _pcg64_tables() -> tuple[np.ndarray, np.ndarray]:
    """A_j and G_j (as high, low 64-bit halves) for j = 0..63."""
    multiplier, total, jumps, sums = _PCG64_MULTIPLIER, 1, [], []
    for _ in range(64):
        jumps.append(multiplier)
        sums.append(total)
        total = (total * (multiplier + 1)) & _MASK128
        multiplier = (multiplier * multiplier) & _MASK128
    return _pcg64_halves(jumps), _pcg64_halves(sums)


_PCG64_JUMPS, _PCG64_SUMS = _pcg64_tables()


def _pcg64_start(seed: np.random.SeedSequence) -> np.ndarray:
    """The state and increment of ``default_rng(seed)``'s PCG64, as 64-bit halves."""
    state = np.random.PCG64(seed).state["state"]
    return _pcg64_halves([state["state"], state["inc"]]).ravel()


@numba.njit(inline="always")
def _multiply_64(a, b):
    """The 128-bit product of two uint64, as (high, low)."""
    m32, s32 = np.uint64(0xFFFFFFFF), np.uint64(32)
    a0, a1, b0, b1 = a & m32, a >> s32, b & m32, b >> s32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> s32) + (p01 & m32) + (p10 & m32)
    return p11 + (p01 >> s32) + (p10 >> s32) + (mid >> s32), (mid << s32) | (p00 & m32)


@numba.njit(inline="always")
def _multiply_128(a_high, a_low, b_high, b_low):
    """a * b mod 2^128, in (high, low) 64-bit halves."""
    high, low = _multiply_64(a_low, b_low)
    return high + a_high * b_low + a_low * b_high, low


@numba.njit(cache=True)
def _stream_uniforms(starts, stream, ids, jumps, sums):
    """The uniforms at places ``ids`` of PCG64 streams, id ``k``'s in the stream whose state
    and increment are ``starts[stream[k]]`` (``_pcg64_start``): what ``Generator.random``
    draws there."""
    one, zero = np.uint64(1), np.uint64(0)
    shifts = np.empty((len(starts), len(sums), 2), dtype=np.uint64)  # the increment times G_j
    for s in range(len(starts)):
        for j in range(len(sums)):
            shifts[s, j, 0], shifts[s, j, 1] = _multiply_128(
                starts[s, 2], starts[s, 3], sums[j, 0], sums[j, 1]
            )
    out = np.empty(len(ids))
    for k in range(len(ids)):
        s = stream[k]
        steps, high, low, j = np.uint64(ids[k]) + one, starts[s, 0], starts[s, 1], 0
        while steps:
            if steps & one:
                high, low = _multiply_128(high, low, jumps[j, 0], jumps[j, 1])
                added = low + shifts[s, j, 1]
                high = high + shifts[s, j, 0] + (one if added < low else zero)
                low = added
            steps >>= one
            j += 1
        mixed, rotation = high ^ low, high >> np.uint64(58)
        output = (mixed >> rotation) | (mixed << ((np.uint64(64) - rotation) & np.uint64(63)))
        out[k] = np.float64(output >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return out
