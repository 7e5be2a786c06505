"""The scenario schema: defaults, overrides and one-line errors naming file and key."""

from __future__ import annotations

import datetime as dt

import pytest

import sim
from sim.model.scenario import ScenarioError, load, loads, parse_override, to_dict, with_overrides

MINIMAL = """
[scenario]
name = "x"
start = 2024-01-08

[population]
mailboxes = 100
"""


def error_of(text: str, overrides=None) -> str:
    with pytest.raises(ScenarioError) as caught:
        loads(text, overrides, source="plan.toml")
    return str(caught.value)


def test_only_name_start_and_mailboxes_are_required():
    sc = loads(MINIMAL)
    assert sc.batches.weekday == 22_000 and sc.support.agents == 40
    assert sc.batches.cutover_time == 20 * 60
    assert sc.throttle.windows[0].gb_per_hour == 400
    for missing, key in (("name", "scenario.name"), ("start", "scenario.start")):
        text = "\n".join(line for line in MINIMAL.splitlines() if not line.startswith(missing))
        assert error_of(text) == f"plan.toml: {key}: is required"
    assert "population: is required" in error_of(MINIMAL.split("[population]")[0])


def test_bad_value_names_file_dotted_key_and_value():
    assert (
        error_of(MINIMAL + "[batches]\nweekday = -5\n")
        == "plan.toml: batches.weekday: must be >= 0 (got -5)"
    )


@pytest.mark.parametrize(
    ("extra", "key", "fragment"),
    [
        ("[batches]\nweekdya = 5\n", "batches.weekdya", "did you mean 'weekday'"),
        ("[scenario2]\n", "scenario2", "did you mean 'scenario'"),
        (
            "[calendar]\nblackouts = [{from = 2024-02-01, to = 2024-02-05, resaon = 'x'}]\n",
            "calendar.blackouts[0].resaon",
            "did you mean 'reason'",
        ),
        (
            "[calendar]\nblackouts = [{from = 2024-02-05, to = 2024-02-01}]\n",
            "calendar.blackouts[0].to",
            "must not be before",
        ),
        ("[calendar]\nholidays = 'XX'\n", "calendar.holidays", "unknown country"),
        ("[calendar]\ntimezone = 'Mars/Base'\n", "calendar.timezone", "unknown time zone"),
        (
            "[batches]\ncutover_time = '25:00'\n",
            "batches.cutover_time",
            'between "00:00" and "24:00"',
        ),
        ("[batches]\nselection = 'rnd'\n", "batches.selection", "must be one of"),
        (
            "[throttle]\nwindows = [{days = 'wkd', from = '01:00', to = '02:00', "
            "gb_per_hour = 1}]\n",
            "throttle.windows[0].days",
            "must be one of",
        ),
        ("[failures]\nrate = 1.5\n", "failures.rate", "must be < 1"),
        ("[support]\nhours = {weekdays = ['18:00', '08:00']}\n", "support.hours.weekdays", "after"),
        (
            "[batches]\nphases = [{from = 2024-02-01}, {from = 2024-01-15}]\n",
            "batches.phases[1].from",
            "increasing date order",
        ),
        ("[scenario]\n", "scenario", "not valid TOML"),
    ],
)
def test_each_bad_input_is_one_line_with_its_dotted_key(extra, key, fragment):
    message = error_of(MINIMAL + extra)
    assert "\n" not in message
    assert fragment in message
    if "TOML" not in fragment:
        assert message.startswith(f"plan.toml: {key}: ")


def test_more_organisations_than_mailboxes_is_an_error():
    text = MINIMAL.replace("mailboxes = 100", "mailboxes = 100\norganisations = 101")
    assert error_of(text).startswith("plan.toml: population.organisations: must be <=")


def test_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        load(tmp_path / "nope.toml")


def test_overrides_are_toml_values_and_validated_like_the_file():
    key, value = parse_override("calendar.blackouts=[{from=2024-01-22,to=2024-01-26}]")
    sc = loads(MINIMAL, {key: value, "batches.weekday": 30000, "throttle.scale": 0.5})
    assert sc.calendar.blackouts[0].from_ == dt.date(2024, 1, 22)
    assert sc.batches.weekday == 30000 and sc.throttle.scale == 0.5
    assert parse_override("batches.selection=by_organisation") == (
        "batches.selection",
        "by_organisation",
    )
    assert error_of(MINIMAL, {"batches.wekday": 1}).startswith(
        "plan.toml: batches.wekday: unknown key; did you mean 'weekday'"
    )
    assert "must be >= 0" in error_of(MINIMAL, {"batches.weekday": -1})


def test_scenario_round_trips_through_its_dict_form():
    sc = loads(MINIMAL + "[batches]\ncutover_time = '19:30'\n")
    raw = to_dict(sc)
    assert raw["batches"]["cutover_time"] == "19:30"
    again = with_overrides(sc, {"batches.weekday": 7}, source="x")
    assert again.batches.weekday == 7 and again.batches.cutover_time == 19 * 60 + 30


def test_bundled_scenarios_are_valid():
    for path in ("scenarios/nhsmail-2020.toml", "scenarios/small-trust.toml"):
        assert sim.load(path).population.mailboxes > 0


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (
            'support.ticket_rate={dist="uniform", low=0.002',
            "--set: support.ticket_rate: not a valid TOML inline table (Unclosed inline table): "
            '{dist="uniform", low=0.002',
        ),
        (
            'calendar.weekend=["sat",',
            '--set: calendar.weekend: not a valid TOML array (Invalid value): ["sat",',
        ),
    ],
)
def test_a_malformed_inline_table_in_set_says_so_rather_than_must_be_a_number(assignment, message):
    with pytest.raises(ScenarioError) as caught:
        parse_override(assignment)
    assert str(caught.value) == message


def test_a_bare_word_in_set_is_still_a_string():
    assert parse_override("batches.selection=by_organisation") == (
        "batches.selection",
        "by_organisation",
    )
