"""The service desk against queueing theory, an independent FCFS recursion, and invariants.

Times are hours. Business-hours tests put the epoch at Monday 00:00.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.model.desk import ServiceDesk, TicketRecords, serve

HYPOTHESIS = settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])


# -- independent references --------------------------------------------------------------------


def erlang_c(agents: int, offered_erlangs: float) -> float:
    """P(an arrival waits) in M/M/c, from the Erlang B recursion B(k) = aB(k-1)/(k + aB(k-1))."""
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = offered_erlangs * blocking / (k + offered_erlangs * blocking)
    utilisation = offered_erlangs / agents
    return blocking / (1 - utilisation * (1 - blocking))


def open_at(hours: float, starts: np.ndarray | None, ends: np.ndarray | None) -> float:
    """The first instant >= hours at which the desk is open (inf if never)."""
    if starts is None:
        return hours
    interval = int(np.searchsorted(ends, hours, side="right"))
    if interval == len(ends):
        return math.inf
    return max(hours, float(starts[interval]))


def fcfs_recursion(arrival_hours, handle_hours, agents, starts=None, ends=None):
    """Kiefer-Wolfowitz: in FCFS order each ticket takes the agent free soonest."""
    started = np.full(len(arrival_hours), np.nan)
    closed = np.full(len(arrival_hours), np.nan)
    agent_free_hours = [-math.inf] * agents
    for ticket in np.argsort(arrival_hours, kind="stable"):
        if not agent_free_hours:
            break
        free_hours = heapq.heappop(agent_free_hours)
        start = open_at(max(arrival_hours[ticket], free_hours), starts, ends)
        if start == math.inf:
            break
        started[ticket] = start
        closed[ticket] = start + handle_hours[ticket]
        heapq.heappush(agent_free_hours, closed[ticket])
    return started, closed


def weekday_hours(days: int, weekend_open: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """08:00-18:00 on weekdays (and 09:00-17:00 at weekends if open); day 0 is a Monday."""
    day = np.arange(days)
    weekend = day % 7 >= 5
    starts = day * 24.0 + np.where(weekend, 9.0, 8.0)
    ends = day * 24.0 + np.where(weekend, 17.0, 18.0)
    keep = ~weekend | weekend_open
    return starts[keep], ends[keep]


def as_inf(hours: np.ndarray) -> np.ndarray:
    """NaN (never) as +inf, for comparisons."""
    return np.where(np.isnan(hours), np.inf, hours)


# -- strategies --------------------------------------------------------------------------------

# Quarter-hour grids make ties (simultaneous arrivals, a close at an arrival) likely.
arrival_strategy = st.one_of(
    st.integers(0, 480).map(lambda k: k / 4),
    st.floats(0, 120, allow_nan=False, allow_infinity=False),
)
handle_strategy = st.one_of(
    st.integers(0, 48).map(lambda k: k / 8),
    st.floats(0, 8, allow_nan=False, allow_infinity=False),
)
tickets_strategy = st.integers(0, 40).flatmap(
    lambda n: st.tuples(
        st.lists(arrival_strategy, min_size=n, max_size=n),
        st.lists(handle_strategy, min_size=n, max_size=n),
    )
)


@st.composite
def hours_strategy(draw) -> tuple[np.ndarray | None, np.ndarray | None]:
    """24/7, weekdays, back-to-back days, or random half-hour-aligned intervals."""
    kind = draw(st.sampled_from(["always", "weekdays", "back_to_back", "random"]))
    if kind == "always":
        return None, None
    if kind == "weekdays":
        return weekday_hours(draw(st.integers(1, 14)), weekend_open=draw(st.booleans()))
    if kind == "back_to_back":
        days = draw(st.integers(1, 10))
        return np.arange(days) * 24.0, np.arange(1, days + 1) * 24.0
    edges = draw(st.lists(st.integers(0, 400), min_size=2, max_size=16, unique=True))
    edges = np.sort(edges)[: len(edges) // 2 * 2] / 2
    return edges[0::2], edges[1::2]


def in_service_peak(started: np.ndarray, closed: np.ndarray) -> int:
    """Most tickets in service [started, closed) at any instant."""
    done = ~np.isnan(started)
    times = np.concatenate([started[done], closed[done]])
    steps = np.concatenate([np.ones(done.sum()), -np.ones(done.sum())])
    # At equal times closes go first: an agent can close one ticket and start the next.
    order = np.lexsort((steps, times))
    return int(np.cumsum(steps[order]).max(initial=0))


# -- queueing theory ---------------------------------------------------------------------------

AGENTS, ARRIVALS_PER_HOUR, HANDLED_PER_HOUR = 5, 4.0, 1.0
REPLICATIONS, TICKETS, WARM_UP_TICKETS = 16, 30_000, 3_000


def test_mean_wait_and_chance_of_waiting_match_erlang_c():
    """M/M/5 with lambda = 4/h, mu = 1/h, open 24/7.

    Statistical tolerance: each of 16 independent replications (30,000 tickets, the first 3,000
    discarded as warm-up) gives one estimate; the standard error is the standard deviation of
    the 16 estimates over sqrt(16). We require |sim - theory| < 4 standard errors, and, so that a
    noisy run cannot pass vacuously, a relative error under 8% (mean wait) or 3% (P(wait > 0)).
    """
    chance_wait = erlang_c(AGENTS, ARRIVALS_PER_HOUR / HANDLED_PER_HOUR)
    decay_per_hour = AGENTS * HANDLED_PER_HOUR - ARRIVALS_PER_HOUR
    expected = {
        "mean wait hours": chance_wait / decay_per_hour,
        "P(wait > 0)": chance_wait,
        "P(wait > 1 h)": chance_wait * math.exp(-decay_per_hour * 1.0),
    }
    relative_bound = {"mean wait hours": 0.08, "P(wait > 0)": 0.03, "P(wait > 1 h)": 0.08}
    estimates = {name: [] for name in expected}
    for seed in np.random.SeedSequence(2020).spawn(REPLICATIONS):
        rng = np.random.default_rng(seed)
        arrival_hours = np.cumsum(rng.exponential(1 / ARRIVALS_PER_HOUR, TICKETS))
        handle_hours = rng.exponential(1 / HANDLED_PER_HOUR, TICKETS)
        wait_hours = serve(arrival_hours, handle_hours, AGENTS).wait_hours[WARM_UP_TICKETS:]
        estimates["mean wait hours"].append(wait_hours.mean())
        estimates["P(wait > 0)"].append(np.mean(wait_hours > 0))
        estimates["P(wait > 1 h)"].append(np.mean(wait_hours > 1.0))
    for name, theory in expected.items():
        values = np.array(estimates[name])
        standard_error = values.std(ddof=1) / math.sqrt(REPLICATIONS)
        error = abs(values.mean() - theory)
        assert error < 4 * standard_error, (name, values.mean(), theory, standard_error)
        assert error < relative_bound[name] * theory, (name, values.mean(), theory)


def test_littles_law_time_average_backlog_equals_arrival_rate_times_sojourn():
    """L = lambda W, with L the desk's own live backlog sampled every 3 minutes.

    Weekday business hours, 40 days of arrivals, run until every ticket is closed, so the
    integral of the number in system is exactly the sum of sojourns; only the sampling of the
    live backlog on a grid adds error (well under the 1% allowed).
    """
    rng = np.random.default_rng(7)
    arrival_hours = np.sort(rng.uniform(0, 40 * 24, 3_000))
    handle_hours = rng.exponential(0.5, 3_000)
    starts, ends = weekday_hours(70)
    end_hours, sample_every_hours = 70 * 24.0, 0.05
    env = simpy.Environment()
    desk = ServiceDesk(env, 6, starts, ends)
    desk.submit(arrival_hours, handle_hours, np.arange(3_000))
    samples = []

    def monitor():
        while True:
            samples.append(desk.backlog)
            yield env.timeout(sample_every_hours)

    env.process(monitor())
    env.run(until=end_hours)
    records = desk.records()
    assert not np.isnan(records.closed_hours).any()
    time_average_backlog = np.mean(samples)
    arrival_rate_per_hour = len(records) / end_hours
    mean_sojourn_hours = records.sojourn_hours.mean()
    assert time_average_backlog > 5  # a real queue, not a trivial one
    assert time_average_backlog == pytest.approx(
        arrival_rate_per_hour * mean_sojourn_hours, rel=0.01
    )


# -- exact agreement with the FCFS recursion ---------------------------------------------------


@HYPOTHESIS
@given(tickets=tickets_strategy, agents=st.integers(0, 4), hours=hours_strategy())
def test_single_batch_matches_fcfs_recursion(tickets, agents, hours):
    arrival_hours, handle_hours = (np.array(x, dtype=float) for x in tickets)
    records = serve(arrival_hours, handle_hours, agents, *hours)
    started, closed = fcfs_recursion(arrival_hours, handle_hours, agents, *hours)
    np.testing.assert_array_equal(records.started_hours, started)
    np.testing.assert_array_equal(records.closed_hours, closed)


@st.composite
def batches_strategy(draw) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Batches submitted at increasing times, each arriving after its submission."""
    submit_hours = sorted(draw(st.lists(st.integers(0, 200).map(lambda k: k / 4), max_size=5)))
    batches = []
    for submitted in submit_hours:
        n = draw(st.integers(0, 12))
        offsets = draw(st.lists(st.integers(0, 120).map(lambda k: k / 4), min_size=n, max_size=n))
        handles = draw(st.lists(handle_strategy, min_size=n, max_size=n))
        batches.append((submitted, submitted + np.array(offsets, float), np.array(handles, float)))
    return batches


def run_batches(batches, agents, starts, ends, probe_hours=()):
    """Submit each batch from a process at its time; return the desk and probe readings."""
    env = simpy.Environment()
    desk = ServiceDesk(env, agents, starts, ends)
    first_id = 0

    def cutover_evenings():
        nonlocal first_id
        for submitted, arrival_hours, handle_hours in batches:
            yield env.timeout(submitted - env.now)
            desk.submit(arrival_hours, handle_hours, first_id + np.arange(len(arrival_hours)))
            first_id += len(arrival_hours)

    env.process(cutover_evenings())
    readings = []
    for probe in probe_hours:
        env.run(until=probe)
        readings.append((desk.backlog, desk.peak_backlog, desk.opened_count, desk.closed_count))
    env.run()
    return desk, readings


@HYPOTHESIS
@given(batches=batches_strategy(), agents=st.integers(0, 4), hours=hours_strategy())
def test_batches_submitted_during_the_run_match_fcfs_recursion(batches, agents, hours):
    desk, _ = run_batches(batches, agents, *hours)
    records = desk.records()
    arrival_hours = np.concatenate([b[1] for b in batches] + [np.empty(0)])
    handle_hours = np.concatenate([b[2] for b in batches] + [np.empty(0)])
    started, closed = fcfs_recursion(arrival_hours, handle_hours, agents, *hours)
    np.testing.assert_array_equal(records.opened_hours, arrival_hours)
    np.testing.assert_array_equal(records.mailbox, np.arange(len(arrival_hours)))
    np.testing.assert_array_equal(records.started_hours, started)
    np.testing.assert_array_equal(records.closed_hours, closed)


# -- monotonicity and invariants ---------------------------------------------------------------


@HYPOTHESIS
@given(
    tickets=tickets_strategy,
    agents=st.integers(0, 4),
    extra_agents=st.integers(1, 3),
    hours=hours_strategy(),
)
def test_more_agents_never_lengthen_any_tickets_wait(tickets, agents, extra_agents, hours):
    arrival_hours, handle_hours = (np.array(x, dtype=float) for x in tickets)
    fewer = serve(arrival_hours, handle_hours, agents, *hours)
    more = serve(arrival_hours, handle_hours, agents + extra_agents, *hours)
    assert np.all(as_inf(more.wait_hours) <= as_inf(fewer.wait_hours))


@HYPOTHESIS
@given(tickets=tickets_strategy, agents=st.integers(0, 4), hours=hours_strategy())
def test_every_record_obeys_the_desk_rules(tickets, agents, hours):
    arrival_hours, handle_hours = (np.array(x, dtype=float) for x in tickets)
    records = serve(arrival_hours, handle_hours, agents, *hours)
    started, closed = records.started_hours, records.closed_hours
    done = ~np.isnan(closed)
    assert np.array_equal(done, ~np.isnan(started))  # run to the end: started means closed
    assert np.all(started[done] >= records.opened_hours[done])
    assert np.array_equal(closed[done], started[done] + handle_hours[done])
    starts, ends = hours
    if starts is not None:
        interval = np.searchsorted(ends, started[done], side="right")
        assert np.all(interval < len(ends))
        assert np.all(starts[np.minimum(interval, len(ends) - 1)] <= started[done])
    assert in_service_peak(started, closed) <= agents
    in_fcfs_order = started[np.argsort(records.opened_hours, kind="stable")]
    served = ~np.isnan(in_fcfs_order)
    assert np.all(np.diff(in_fcfs_order[served]) >= 0)
    assert np.all(served[:-1] >= served[1:])  # the served are a prefix: nobody jumps the queue
    if agents == 0:
        assert not done.any()
    elif starts is None:
        assert done.all()  # open 24/7: everything is served in the end


def backlog_by_instant(records: TicketRecords) -> tuple[np.ndarray, np.ndarray]:
    """Distinct event instants and the backlog just after each (arrivals minus closes)."""
    closed = records.closed_hours[~np.isnan(records.closed_hours)]
    instants = np.unique(np.concatenate([records.opened_hours, closed]))
    arrived = np.searchsorted(np.sort(records.opened_hours), instants, side="right")
    closed_by = np.searchsorted(np.sort(closed), instants, side="right")
    return instants, arrived - closed_by


@HYPOTHESIS
@given(
    batches=batches_strategy(),
    agents=st.integers(0, 3),
    hours=hours_strategy(),
    probes=st.lists(st.floats(0.01, 200, allow_nan=False), max_size=8, unique=True),
)
def test_backlog_and_peak_match_the_records_at_any_probe_time(batches, agents, hours, probes):
    probe_hours = np.sort(probes)
    desk, readings = run_batches(batches, agents, *hours, probe_hours=probe_hours)
    records = desk.records()
    instants, backlog_after = backlog_by_instant(records)
    submitted = [b[0] for b in batches]
    for probe, (backlog, peak, opened, closed) in zip(probe_hours, readings, strict=True):
        if probe in instants or probe in submitted:
            continue  # simultaneous with an event: either reading would be defensible
        expected_opened = int(np.sum(records.opened_hours <= probe))
        expected_closed = int(np.sum(records.closed_hours <= probe))
        assert (opened, closed) == (expected_opened, expected_closed)
        assert backlog == expected_opened - expected_closed
        assert peak == backlog_after[instants <= probe].max(initial=0)
    # The run ends with the last event, which can come before late arrivals if no agent is left
    # to serve them; the desk still counts whatever has arrived by then.
    end = desk.env.now
    assert desk.peak_backlog == backlog_after[instants <= end].max(initial=0)
    assert desk.backlog == np.sum(records.opened_hours <= end) - np.sum(records.closed_hours <= end)


# -- business hours, by example ----------------------------------------------------------------

MONDAY, FRIDAY = 0, 4


def hours_on(day: int, clock_hours: float) -> float:
    return day * 24.0 + clock_hours


def test_ticket_raised_at_19_00_starts_at_08_00_next_day():
    starts, ends = weekday_hours(14)
    records = serve(np.array([hours_on(MONDAY, 19)]), np.array([0.5]), 3, starts, ends)
    assert records.started_hours[0] == hours_on(MONDAY + 1, 8)
    assert records.wait_hours[0] == 13.0


def test_friday_evening_ticket_waits_for_monday_when_weekend_closed():
    starts, ends = weekday_hours(14)
    records = serve(np.array([hours_on(FRIDAY, 19.5)]), np.array([0.25]), 3, starts, ends)
    assert records.started_hours[0] == hours_on(MONDAY + 7, 8)
    assert records.closed_hours[0] == hours_on(MONDAY + 7, 8.25)


def test_ticket_started_before_closing_is_finished_after_closing():
    starts, ends = weekday_hours(14)
    records = serve(np.array([hours_on(MONDAY, 17.5)]), np.array([2.0]), 1, starts, ends)
    assert records.started_hours[0] == hours_on(MONDAY, 17.5)
    assert records.closed_hours[0] == hours_on(MONDAY, 19.5)


def test_ticket_arriving_exactly_at_closing_waits_for_next_opening():
    starts, ends = weekday_hours(14)
    records = serve(np.array([hours_on(MONDAY, 18)]), np.array([1.0]), 1, starts, ends)
    assert records.started_hours[0] == hours_on(MONDAY + 1, 8)


def test_back_to_back_days_behave_as_continuously_open():
    days = np.arange(5) * 24.0
    arrival_hours = np.array([23.5, 23.75, 47.9, 48.0])
    handle_hours = np.array([1.0, 2.0, 0.5, 0.5])
    split = serve(arrival_hours, handle_hours, 1, days, days + 24)
    always = serve(arrival_hours, handle_hours, 1)
    np.testing.assert_array_equal(split.started_hours, always.started_hours)
    assert split.started_hours[1] == 24.5  # started at the day boundary, not held back


def test_start_lands_exactly_on_the_opening_despite_rounding():
    # 2**-50 + (opening - 2**-50) rounds to 8.0, half a step short of this opening.
    opening_hours = 8.0 + 2**-49
    records = serve(np.array([2**-50]), np.array([1.0]), 1, np.array([opening_hours]), [18.0])
    assert records.started_hours[0] == opening_hours
    assert records.closed_hours[0] == opening_hours + 1.0


def test_overnight_queue_starts_together_at_opening_in_arrival_order():
    starts, ends = weekday_hours(14)
    arrival_hours = np.array([hours_on(MONDAY, h) for h in (22, 19, 20, 21)])
    records = serve(arrival_hours, np.full(4, 1.0), 2, starts, ends)
    tuesday_8 = hours_on(MONDAY + 1, 8)
    np.testing.assert_array_equal(
        records.started_hours, [tuesday_8 + 1, tuesday_8, tuesday_8, tuesday_8 + 1]
    )


# -- ties, batches and edge cases --------------------------------------------------------------


def test_simultaneous_arrivals_from_different_batches_are_served_in_submission_order():
    env = simpy.Environment()
    desk = ServiceDesk(env, 1)

    def cutovers():
        desk.submit(np.array([5.0, 9.0]), np.array([1.0, 1.0]), np.array([1, 2]))
        yield env.timeout(4.0)
        desk.submit(np.array([5.0, 4.0]), np.array([1.0, 1.0]), np.array([3, 4]))

    env.process(cutovers())
    env.run()
    records = desk.records()
    np.testing.assert_array_equal(records.mailbox, [1, 2, 3, 4])
    np.testing.assert_array_equal(records.started_hours, [5.0, 9.0, 6.0, 4.0])


def test_no_agents_serve_nothing_and_the_backlog_grows():
    env = simpy.Environment()
    desk = ServiceDesk(env, 0)
    desk.submit(np.array([1.0, 2.0, 3.0]), np.ones(3), np.arange(3))
    env.run(until=2.5)
    assert (desk.backlog, desk.peak_backlog) == (2, 2)
    env.run(until=100)
    assert (desk.backlog, desk.peak_backlog, desk.closed_count) == (3, 3, 0)
    assert np.isnan(desk.records().started_hours).all()


def test_records_mid_run_show_unstarted_and_open_tickets_as_nan():
    env = simpy.Environment()
    desk = ServiceDesk(env, 1)
    desk.submit(np.array([0.0, 0.5, 50.0]), np.array([2.0, 1.0, 1.0]), np.array([7, 8, 9]))
    env.run(until=1.0)
    records = desk.records()
    np.testing.assert_array_equal(records.started_hours, [0.0, np.nan, np.nan])
    assert np.isnan(records.closed_hours).all()
    np.testing.assert_array_equal(records.wait_hours, [0.0, np.nan, np.nan])
    assert desk.backlog == 2


@pytest.mark.parametrize(
    ("agents", "arrival_hours"),
    [
        (1, [0.0, 1.0]),  # the close is processed first
        (2, [0.5, 1.5]),  # the arrival is handed over first (its event was scheduled earlier)
    ],
)
def test_peak_backlog_ignores_a_close_and_an_arrival_at_the_same_instant(agents, arrival_hours):
    env = simpy.Environment()
    desk = ServiceDesk(env, agents)
    desk.submit(np.array(arrival_hours), np.array([1.0, 1.0]), np.array([1, 2]))
    env.run()
    assert desk.records().closed_hours[0] == arrival_hours[1]
    assert desk.peak_backlog == 1


def test_serve_until_stops_early():
    records = serve(np.array([0.0, 1.0]), np.array([5.0, 5.0]), 1, until=3.0)
    np.testing.assert_array_equal(records.started_hours, [0.0, np.nan])


@pytest.mark.parametrize(
    ("agents", "starts", "ends", "message"),
    [
        (-1, None, None, "agents"),
        (2.5, None, None, "agents"),
        (1, np.array([0.0]), None, "both"),
        (1, np.array([0.0, 10.0]), np.array([12.0, 20.0]), "overlap"),
        (1, np.array([5.0]), np.array([5.0]), "start < end"),
        (1, np.array([0.0, 1.0]), np.array([1.0]), "same length"),
    ],
)
def test_bad_desk_settings_raise_value_error(agents, starts, ends, message):
    with pytest.raises(ValueError, match=message):
        ServiceDesk(simpy.Environment(), agents, starts, ends)


@pytest.mark.parametrize(
    ("arrival_hours", "handle_hours", "mailbox", "message"),
    [
        ([1.0], [1.0, 2.0], [1], "same length"),
        ([-1.0], [1.0], [1], ">= now"),
        ([np.nan], [1.0], [1], "finite"),
        ([1.0], [-1.0], [1], "handle_hours"),
        ([1.0], [1.0], [1.5], "integer"),
    ],
)
def test_bad_tickets_raise_value_error(arrival_hours, handle_hours, mailbox, message):
    desk = ServiceDesk(simpy.Environment(), 1)
    with pytest.raises(ValueError, match=message):
        desk.submit(np.array(arrival_hours), np.array(handle_hours), np.array(mailbox))
