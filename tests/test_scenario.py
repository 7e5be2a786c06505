"""The scenario schema: defaults, overrides and one-line errors naming file and key."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- strict numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("batches.weekday", "true"),
        ("support.agents", "false"),
        ("throttle.scale", "true"),
        ("failures.rate", "false"),
        ("scenario.seed", "true"),
        ("throttle.windows", '[{from = "00:00", to = "24:00", gb_per_hour = true}]'),
    ],
)
def test_true_or_false_is_never_taken_as_a_number_in_the_file_or_in_set(key, value):
    table, _, name = key.partition(".")
    in_file = (
        MINIMAL + f"\n[{table}]\n{name} = {value}\n"
        if table != "scenario"
        else (MINIMAL.replace('name = "x"', f'name = "x"\n{name} = {value}'))
    )
    assert "not true/false" in error_of(in_file)
    message = error_of(MINIMAL, dict([parse_override(f"{key}={value}")]))
    assert key in message and "not true/false" in message


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "+inf"])
@pytest.mark.parametrize(
    "key", ["throttle.scale", "throttle.per_move_gb_per_hour", "batches.catch_up"]
)
def test_non_finite_numbers_are_refused_naming_the_key(key, value):
    message = error_of(MINIMAL, dict([parse_override(f"{key}={value}")]))
    assert message.startswith(f"plan.toml: {key}: must be a finite number")


@pytest.mark.parametrize("value", [2**53 + 1, 10**22, -(2**60)])
def test_integers_beyond_two_to_the_53_are_refused(value):
    message = error_of(MINIMAL.replace("mailboxes = 100", f"mailboxes = {value}"))
    assert message.startswith("plan.toml: population.mailboxes: must be at most 9,007,199")


def test_an_integer_up_to_two_to_the_53_is_a_number_like_any_other():
    sc = loads(MINIMAL, {"batches.weekday": 2**53})
    assert sc.batches.weekday == 2**53


def test_a_horizon_beyond_ten_years_is_refused_and_ten_years_is_not():
    from sim.model.scenario import MAX_HORIZON_DAYS

    assert loads(MINIMAL, {"scenario.horizon_days": MAX_HORIZON_DAYS}).scenario.horizon_days
    message = error_of(MINIMAL, {"scenario.horizon_days": MAX_HORIZON_DAYS + 1})
    assert message.startswith("plan.toml: scenario.horizon_days: must be <= 3653")


@pytest.mark.parametrize("value", ['"20000"', '"1_000"'])
def test_a_number_in_quotes_is_refused_with_the_hint_to_remove_them(value):
    message = error_of(MINIMAL + f"\n[batches]\nweekday = {value}\n")
    assert message.startswith("plan.toml: batches.weekday: must be a whole number without quotes")


@pytest.mark.parametrize("value", ["1", "0", '"yes"', '"true"'])
def test_a_true_or_false_key_takes_only_true_or_false(value):
    message = error_of(MINIMAL + f"\n[throttle]\nholidays_as_weekend = {value}\n")
    assert message.startswith("plan.toml: throttle.holidays_as_weekend: must be true or false")


def test_a_distributions_parameters_are_strict_numbers_too():
    text = MINIMAL + '\n[support]\nagents = { dist = "uniform", low = true, high = 3 }\n'
    assert error_of(text).startswith("plan.toml: support.agents.low: must be a number, not true")
    text = MINIMAL + '\n[support]\nticket_rate = { dist = "uniform", low = 0, high = inf }\n'
    assert error_of(text).startswith("plan.toml: support.ticket_rate.high: must be a finite number")


def test_a_share_written_as_a_percent_says_so():
    message = error_of(MINIMAL + "\n[failures]\nrate = 30\n")
    assert message == "plan.toml: failures.rate: must be < 1.0 (got 30): a share, so 30% is 0.3"
    message = error_of(MINIMAL + '\n[failures]\nrate = "3%"\n')
    assert (
        message == "plan.toml: failures.rate: must be a number (got '3%'): a share, so 3% is 0.03"
    )


def test_every_schema_problem_is_listed_with_the_first_one_raised():
    text = MINIMAL + "\n[batches]\nweekday = -1\n[throttle]\nscale = inf\n[support]\nagents = -2\n"
    with pytest.raises(ScenarioError) as caught:
        loads(text, source="plan.toml")
    keys = [problem.key for problem in caught.value.problems]
    assert caught.value.problems[0] is caught.value
    assert sorted(keys) == ["batches.weekday", "support.agents", "throttle.scale"]


def test_a_typo_in_a_key_is_reported_before_the_key_it_leaves_missing():
    text = MINIMAL + "\n[calendar]\nblackouts = [{ form = 2024-02-01, to = 2024-02-02 }]\n"
    assert error_of(text) == (
        "plan.toml: calendar.blackouts[0].form: unknown key; did you mean 'from'?"
    )


# --- files that are not what they seem -------------------------------------------------------


def test_a_toml_file_saved_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load(path).population.mailboxes == 100
    assert loads("\ufeff" + MINIMAL).population.mailboxes == 100


def test_a_folder_given_as_the_scenario_says_it_is_a_folder(tmp_path):
    with pytest.raises(ScenarioError, match="is a folder, not a scenario file"):
        load(tmp_path)


def _with_inventory(name: str) -> str:
    return MINIMAL.replace("mailboxes = 100", f'inventory = "{name}"')


def test_an_excel_workbook_as_the_inventory_is_one_line_saying_to_export_csv(tmp_path):
    (tmp_path / "mailboxes.xlsx").write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(100))
    with pytest.raises(ScenarioError) as caught:
        loads(_with_inventory("mailboxes.xlsx"), source="plan.toml", base_dir=tmp_path)
    line = str(caught.value)
    assert "\n" not in line and "\\x" not in line
    assert line.startswith("plan.toml: population.inventory: ")
    assert "mailboxes.xlsx is an Excel workbook" in line
    assert "save it as CSV" in line


def test_a_folder_as_the_inventory_says_it_is_a_folder(tmp_path):
    (tmp_path / "exports").mkdir()
    with pytest.raises(ScenarioError) as caught:
        loads(_with_inventory("exports"), source="plan.toml", base_dir=tmp_path)
    assert str(caught.value).startswith("plan.toml: population.inventory: ")
    assert str(caught.value).endswith("exports is a folder, not a CSV or Parquet file")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("scenario.start", "9999-06-01", "must be between 1990-01-01 and 2200-12-31"),
        ("scenario.start", "1677-01-01", "must be between 1990-01-01 and 2200-12-31"),
        ("support.agents", "10001", "must be <= 10000"),
        ("batches.notice_days", "367", "must be <= 366"),
        ("throttle.presync_lead_days", "1e15", "must be <= 366"),
    ],
)
def test_values_beyond_what_the_model_can_hold_are_refused_naming_the_key(key, value, message):
    assert error_of(MINIMAL, dict([parse_override(f"{key}={value}")])).startswith(
        f"plan.toml: {key}: {message}"
    )


WINDOWED = (
    MINIMAL
    + """
[throttle]
windows = [
  { days = "weekdays", from = "08:00", to = "18:00", gb_per_hour = 400 },
  { days = "all", from = "00:00", to = "24:00", gb_per_hour = 1500 },
]
"""
)


def test_set_reaches_a_list_item_by_the_key_errors_name_it():
    sc = loads(WINDOWED, {"throttle.windows[1].gb_per_hour": 900})
    assert [w.gb_per_hour for w in sc.throttle.windows] == [400, 900]
    message = error_of(WINDOWED, {"throttle.windows[0].gb_per_hour": -1})
    assert message == "plan.toml: throttle.windows[0].gb_per_hour: must be >= 0.0 (got -1)"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("throttle.windows[2].to", "throttle.windows[2]: no such item: throttle.windows has 2"),
        ("throttle.windows[0].gb_per_hr", "throttle.windows[0].gb_per_hr: unknown key"),
        ("batches.weekday[0]", "batches.weekday: is not a list"),
        ("calendar.blackouts[0].to", "calendar.blackouts: is not in the file: give the whole"),
        ("batches..weekday", "batches..weekday: is not a dotted key"),
    ],
)
def test_a_bad_list_item_key_in_set_says_what_is_wrong(key, message):
    assert error_of(WINDOWED, {key: 1}).startswith(f"plan.toml: {message}")


def _every_numeric_key() -> list[str]:
    from sim.experiments.keys import numeric_keys

    plan = list(numeric_keys(sim.load("scenarios/small-trust.toml")))
    return [*plan, "scenario.seed", "scenario.replications", "scenario.horizon_days"]


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from(_every_numeric_key()),
    bad=st.sampled_from([True, False, "5", "0.5", math.inf, -math.inf, math.nan, 2**60, -(2**70)]),
)
def test_no_numeric_key_takes_true_false_text_non_finite_or_endless_numbers(key, bad):
    with pytest.raises(ScenarioError) as caught:
        loads(MINIMAL, {key: bad}, source="plan.toml", override_source="--set")
    assert str(caught.value).startswith(f"--set: {key}: "), str(caught.value)
