"""Mistaken and hostile inputs, as planners type them, against every command.

Each case asserts the contract for bad input (SPEC, "Command line"): exit 2,
exactly one line on stderr, no traceback, the file (or the option) and the
dotted key named, nothing simulated, and an ``--out`` folder that held earlier
results before the mistake is byte for byte what it was after it.

The scenario is tiny and every mistake is found before simulating (the
simulation is replaced by a failure), so the whole suite runs in seconds
in-process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.experiments import runner as runner_mod
from sim.model import feasibility
from sim.model.simulation import Model

BASE = """\
[scenario]
name = "hostile"
start = 2024-01-08
deadline = 2024-03-29
seed = 1
replications = 2
horizon_days = 60

[population]
mailboxes = 200
organisations = 4
size_gb = { mean = 1.0, sigma = 0.5, max = 20.0 }
legacy_client_share = 0.1

[calendar]
holidays = "GB-ENG"
timezone = "Europe/London"
weekend = ["sat", "sun"]
blackouts = [{ from = 2024-02-12, to = 2024-02-16, reason = "half term" }]

[batches]
weekday = 20
weekend_day = 0
notice_days = 7
cutover_time = "20:00"
catch_up = 0.0
selection = "random"

[throttle]
presync_lead_days = 3
concurrent_moves = 50
per_move_gb_per_hour = 1.0
scale = 1.0
windows = [{ days = "all", from = "00:00", to = "24:00", gb_per_hour = 100 }]

[failures]
rate = 0.01
retry_after_days = 2
max_attempts = 3

[support]
ticket_rate = 0.01
agents = 2
hours = { weekdays = ["08:00", "18:00"], weekend = [] }
pause_backlog = 0
"""

ACTUALS = "date,migrated,failed,tickets_opened\n2024-01-08,20,0,0\n2024-01-09,20,0,1\n"

# Each command as a user runs it, with its earlier results in OUT (a file named as its own).
# {S}: the scenario, {O}: the --out folder, {A}: the actuals.
COMMANDS = {
    "validate": (["validate", "{S}"], None),
    "run": (["run", "{S}", "-n", "2", "-w", "1", "--out", "{O}"], "summary.json"),
    "check": (["check", "{S}", "-n", "2", "-w", "1", "--junit", "{O}/report.xml"], "report.xml"),
    "sweep": (
        ["sweep", "{S}", "--vary", "batches.catch_up=0,0.1", "-n", "2", "-w", "1", "--out", "{O}"],
        "sweep.csv",
    ),
    "report": (["report", "{S}", "-n", "2", "-w", "1", "--out", "{O}"], "report.html"),
    "plan": (["plan", "{S}", "--out", "{O}"], "plan.csv"),
    "solve": (["solve", "{S}", "--for", "support.agents", "-n", "2", "-w", "1"], None),
    "sensitivity": (
        ["sensitivity", "{S}", "--params", "support.agents", "-n", "2", "-w", "1", "--out", "{O}"],
        "sensitivity.parquet",
    ),
    "forecast": (
        ["forecast", "{S}", "--actuals", "{A}", "-n", "2", "-w", "1", "--out", "{O}"],
        "summary.json",
    ),
}
SIMULATING = [name for name in COMMANDS if name != "plan"]  # plan draws, it does not simulate


@dataclass(frozen=True)
class Mistake:
    """A change to the scenario file (``old`` -> ``new``, or lines added) and what must be named."""

    id: str
    old: str
    new: str
    key: str  # the dotted key the line must name ("" for a file that is not even TOML)


def _file(id, old, new, key):
    return Mistake(id, old, new, key)


FILE_MISTAKES = [
    # numbers that are not numbers, or not the right ones
    _file("negative batch", "weekday = 20\n", "weekday = -20\n", "batches.weekday"),
    _file("batch as true", "weekday = 20\n", "weekday = true\n", "batches.weekday"),
    _file("batch in quotes", "weekday = 20\n", 'weekday = "20"\n', "batches.weekday"),
    _file("batch with a fraction", "weekday = 20\n", "weekday = 20.5\n", "batches.weekday"),
    _file("batch as inf", "weekday = 20\n", "weekday = inf\n", "batches.weekday"),
    _file(
        "23-digit batch", "weekday = 20\n", "weekday = 12345678901234567890123\n", "batches.weekday"
    ),
    _file("batch with thousands comma", "weekday = 20\n", 'weekday = "2,000"\n', "batches.weekday"),
    _file("typo in a key", "weekday = 20\n", "wekday = 20\n", "batches.wekday"),
    _file("old key name", "weekday = 20\n", "weekday_batch = 20\n", "batches.weekday_batch"),
    _file("failure rate as percent", "rate = 0.01", "rate = 30", "failures.rate"),
    _file("negative failure rate", "rate = 0.01", "rate = -0.01", "failures.rate"),
    _file("failure rate nan", "rate = 0.01", "rate = nan", "failures.rate"),
    _file(
        "ticket rate as percent", "ticket_rate = 0.01", "ticket_rate = 1.5", "support.ticket_rate"
    ),
    _file(
        "legacy share as percent",
        "legacy_client_share = 0.1",
        "legacy_client_share = 10",
        "population.legacy_client_share",
    ),
    _file(
        "confidence as percent",
        "replications = 2\n",
        "replications = 2\nconfidence = 90\n",
        "scenario.confidence",
    ),
    _file("cutover at 25:00", '"20:00"', '"25:00"', "batches.cutover_time"),
    _file("cutover at 8pm", '"20:00"', '"8pm"', "batches.cutover_time"),
    _file("cutover at 20:60", '"20:00"', '"20:60"', "batches.cutover_time"),
    _file(
        "cutover as true", 'cutover_time = "20:00"', "cutover_time = true", "batches.cutover_time"
    ),
    _file(
        "deadline before start",
        "deadline = 2024-03-29",
        "deadline = 2023-12-01",
        "scenario.deadline",
    ),
    _file(
        "start as day/month/year", "start = 2024-01-08", 'start = "08/01/2024"', "scenario.start"
    ),
    _file("start missing", "start = 2024-01-08\n", "", "scenario.start"),
    _file("name empty", 'name = "hostile"', 'name = ""', "scenario.name"),
    _file("name a number", 'name = "hostile"', "name = 7", "scenario.name"),
    _file(
        "horizon of 100,000 days",
        "horizon_days = 60",
        "horizon_days = 100000",
        "scenario.horizon_days",
    ),
    _file("horizon of 0 days", "horizon_days = 60", "horizon_days = 0", "scenario.horizon_days"),
    _file("seed negative", "seed = 1", "seed = -1", "scenario.seed"),
    _file("seed as true", "seed = 1", "seed = true", "scenario.seed"),
    _file("no replications", "replications = 2", "replications = 0", "scenario.replications"),
    _file("no mailboxes", "mailboxes = 200", "mailboxes = 0", "population.mailboxes"),
    _file("negative mailboxes", "mailboxes = 200", "mailboxes = -5", "population.mailboxes"),
    _file(
        "more organisations than mailboxes",
        "organisations = 4",
        "organisations = 1000",
        "population.organisations",
    ),
    _file("size cap below mean", "max = 20.0", "max = 0.5", "population.size_gb.max"),
    _file("size sigma negative", "sigma = 0.5", "sigma = -0.5", "population.size_gb.sigma"),
    _file("unknown holidays code", '"GB-ENG"', '"XX"', "calendar.holidays"),
    _file("unknown subdivision", '"GB-ENG"', '"GB-XYZ"', "calendar.holidays"),
    _file("unknown timezone", '"Europe/London"', '"Europe/Londn"', "calendar.timezone"),
    _file(
        "weekend day spelled out", '["sat", "sun"]', '["saturday", "sunday"]', "calendar.weekend"
    ),
    _file(
        "blackout the wrong way round",
        "from = 2024-02-12, to = 2024-02-16",
        "from = 2024-02-16, to = 2024-02-12",
        "calendar.blackouts[0].to",
    ),
    _file(
        "blackout with a typo",
        "from = 2024-02-12, to",
        "form = 2024-02-12, to",
        "calendar.blackouts[0].form",
    ),
    _file("window closes at 24:30", 'to = "24:00"', 'to = "24:30"', "throttle.windows[0].to"),
    _file(
        "empty window",
        'from = "00:00", to = "24:00"',
        'from = "08:00", to = "08:00"',
        "throttle.windows[0].to",
    ),
    _file(
        "negative window rate",
        "gb_per_hour = 100",
        "gb_per_hour = -100",
        "throttle.windows[0].gb_per_hour",
    ),
    _file(
        "window rate inf",
        "gb_per_hour = 100",
        "gb_per_hour = inf",
        "throttle.windows[0].gb_per_hour",
    ),
    _file("window on no day", 'days = "all"', 'days = "weekdayz"', "throttle.windows[0].days"),
    _file("every window closed", "gb_per_hour = 100", "gb_per_hour = 0", "throttle.windows"),
    _file("throttle scale 0", "scale = 1.0", "scale = 0", "throttle.scale"),
    _file("throttle scale inf", "scale = 1.0", "scale = inf", "throttle.scale"),
    _file(
        "no concurrent moves",
        "concurrent_moves = 50",
        "concurrent_moves = 0",
        "throttle.concurrent_moves",
    ),
    _file(
        "move speed 0",
        "per_move_gb_per_hour = 1.0",
        "per_move_gb_per_hour = 0",
        "throttle.per_move_gb_per_hour",
    ),
    _file(
        "move too slow to ever sync",
        "per_move_gb_per_hour = 1.0",
        "per_move_gb_per_hour = 0.001",
        "throttle.per_move_gb_per_hour",
    ),
    _file(
        "negative presync lead",
        "presync_lead_days = 3",
        "presync_lead_days = -3",
        "throttle.presync_lead_days",
    ),
    _file("no attempts", "max_attempts = 3", "max_attempts = 0", "failures.max_attempts"),
    _file(
        "retry after 1.5 days",
        "retry_after_days = 2",
        "retry_after_days = 1.5",
        "failures.retry_after_days",
    ),
    _file("no agents while tickets expected", "agents = 2", "agents = 0", "support.agents"),
    _file("negative agents", "agents = 2", "agents = -2", "support.agents"),
    _file("agents as text", "agents = 2", 'agents = "two"', "support.agents"),
    _file(
        "agents may draw 0",
        "agents = 2",
        'agents = { dist = "uniform", low = 0, high = 4 }',
        "support.agents",
    ),
    _file(
        "agents from an untruncated normal",
        "agents = 2",
        'agents = { dist = "normal", mean = 2, sd = 1 }',
        "support.agents",
    ),
    _file(
        "unknown distribution",
        "ticket_rate = 0.01",
        'ticket_rate = { dist = "gaussian", mean = 0.01, sd = 0.001 }',
        "support.ticket_rate.dist",
    ),
    _file(
        "mode outside the range",
        "ticket_rate = 0.01",
        'ticket_rate = { dist = "pert", low = 0.02, mode = 0.01, high = 0.03 }',
        "support.ticket_rate",
    ),
    _file(
        "distribution bound as true",
        "ticket_rate = 0.01",
        'ticket_rate = { dist = "uniform", low = true, high = 0.03 }',
        "support.ticket_rate.low",
    ),
    _file(
        "distribution on the start date",
        "seed = 1",
        'seed = { dist = "uniform", low = 1, high = 3 }',
        "scenario.seed",
    ),
    _file(
        "desk closes before it opens",
        '["08:00", "18:00"]',
        '["18:00", "08:00"]',
        "support.hours.weekdays",
    ),
    _file(
        "negative backlog gate", "pause_backlog = 0", "pause_backlog = -1", "support.pause_backlog"
    ),
    _file("too few places in the horizon", "weekday = 20\n", "weekday = 2\n", "batches.weekday"),
    _file("no cutover day at all", "weekday = 20\n", "weekday = 0\n", "batches.weekday"),
    _file("negative catch-up", "catch_up = 0.0", "catch_up = -0.5", "batches.catch_up"),
    _file("unknown selection", '"random"', '"alphabetical"', "batches.selection"),
    _file("negative notice", "notice_days = 7", "notice_days = -7", "batches.notice_days"),
    _file(
        "phases out of order",
        "selection",
        "phases = [{ from = 2024-02-01, weekday = 30 }, { from = 2024-01-09, weekday = 20 }]\n"
        "selection",
        "batches.phases[1].from",
    ),
    _file("unknown table", "[failures]", "[failure]", "failure"),
    _file(
        "risk without an effect",
        "[support]",
        '[[risks]]\nname = "strike"\nprobability = 0.2\n\n[support]',
        "risks[0].pause_days",
    ),
    _file(
        "risk probability as percent",
        "[support]",
        '[[risks]]\nname = "strike"\nprobability = 20\npause_days = 3\n\n[support]',
        "risks[0].probability",
    ),
    _file(
        "failure wave beyond every cutover",
        "[support]",
        '[[risks]]\nname = "wave"\nper_week = 0.1\nfailure_factor = 500\ndays = 2\n\n[support]',
        "risks[0].failure_factor",
    ),
    _file(
        "risk between the wrong way round",
        "[support]",
        '[[risks]]\nname = "x"\nprobability = 0.2\nbetween = [2024-03-01, 2024-02-01]\n'
        "pause_days = 3\n\n[support]",
        "risks[0].between",
    ),
    _file(
        "inventory missing",
        "mailboxes = 200\norganisations = 4\nsize_gb = { mean = 1.0, sigma = 0.5, max = 20.0 }",
        'inventory = "missing.csv"',
        "population.inventory",
    ),
    _file(
        "inventory is a folder",
        "mailboxes = 200\norganisations = 4\nsize_gb = { mean = 1.0, sigma = 0.5, max = 20.0 }",
        'inventory = "a-folder"',
        "population.inventory",
    ),
    _file(
        "inventory is a workbook",
        "mailboxes = 200\norganisations = 4\nsize_gb = { mean = 1.0, sigma = 0.5, max = 20.0 }",
        'inventory = "mailboxes.xlsx"',
        "population.inventory",
    ),
    _file(
        "inventory beside drawn sizes",
        "mailboxes = 200\n",
        'mailboxes = 200\ninventory = "mailboxes.csv"\n',
        "population.mailboxes",
    ),
    # not TOML at all: the file and the line are named
    _file("duplicated key", "weekday = 20\n", "weekday = 20\nweekday = 30\n", ""),
    _file("date the wrong way round", "start = 2024-01-08", "start = 2024-13-08", ""),
    _file("unclosed table header", "[batches]", "[batches", ""),
    _file("comma in a number", "weekday = 20\n", "weekday = 2,000\n", ""),
]


@pytest.fixture(autouse=True)
def nothing_simulates(monkeypatch):
    """Bad input is found before simulating: a simulation here is a failure of the test."""

    def simulated(*args, **kwargs):
        raise AssertionError("simulated although the input is bad")

    monkeypatch.setattr(runner_mod, "_execute", simulated)
    monkeypatch.setattr(Model, "replicate", simulated)


@pytest.fixture
def place(tmp_path):
    """The scenario, the actuals, an inventory and a workbook in a fresh folder."""
    (tmp_path / "actuals.csv").write_text(ACTUALS)
    (tmp_path / "mailboxes.csv").write_text("mailbox,size_gb\na@x.org,1.0\nb@x.org,2.0\n")
    (tmp_path / "mailboxes.xlsx").write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(64))
    (tmp_path / "a-folder").mkdir()
    return tmp_path


def invoke(place: Path, command: str, text: str, extra: list[str] | None = None):
    """Run ``command`` on scenario ``text`` (its --out holding earlier results); return the
    result and the scenario's path, after checking the --out folder is as it was."""
    scenario = place / "plan.toml"
    scenario.write_text(text)
    args, earlier = COMMANDS[command]
    out = place / "out"
    if earlier:
        out.mkdir(exist_ok=True)
        (out / earlier).write_bytes(b"last week's results \x00\x01")
    before = _snapshot(out)
    filled = [a.format(S=scenario, O=out, A=place / "actuals.csv") for a in args] + list(
        extra or []
    )
    result = CliRunner().invoke(app, filled, prog_name="migsim")
    assert _snapshot(out) == before, "the --out folder changed although the input was bad"
    return result, scenario


def _snapshot(folder: Path) -> dict[str, bytes] | None:
    if not folder.exists():
        return None
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    } | {".": oct(folder.stat().st_mode).encode()}


def one_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _named(line: str, source: str, key: str) -> None:
    assert line.startswith(f"{source}: "), line
    if key:
        assert f": {key}" in line, line
    else:
        assert "line" in line, line  # a TOML syntax error says where


def _commands_in_turn(items, commands):
    """Each item with one command, in turn: every command meets its share of the mistakes."""
    return [(item, commands[i % len(commands)]) for i, item in enumerate(items)]


@pytest.mark.parametrize(
    ("mistake", "command"),
    _commands_in_turn(FILE_MISTAKES, list(COMMANDS)),
    ids=lambda value: value.id if isinstance(value, Mistake) else value,
)
def test_a_mistake_in_the_file_is_one_line_naming_the_file_and_key(place, mistake, command):
    assert mistake.old in BASE, mistake.id
    result, scenario = invoke(place, command, BASE.replace(mistake.old, mistake.new, 1))
    line = one_line(result)
    _named(line, str(scenario), mistake.key)


def test_the_base_scenario_is_valid(place):
    scenario = place / "plan.toml"
    scenario.write_text(BASE)
    result = CliRunner().invoke(app, ["validate", str(scenario)])
    assert result.exit_code == 0, result.output


# A plan that can never finish is refused the same way by every command that simulates.
NEVER_FINISHES = [
    m
    for m in FILE_MISTAKES
    if m.id
    in (
        "agents may draw 0",
        "too few places in the horizon",
        "move too slow to ever sync",
        "every window closed",
        "failure wave beyond every cutover",
    )
]


@pytest.mark.parametrize("command", SIMULATING)
@pytest.mark.parametrize("mistake", NEVER_FINISHES, ids=lambda m: m.id)
def test_what_one_command_refuses_every_command_refuses(place, mistake, command):
    result, scenario = invoke(place, command, BASE.replace(mistake.old, mistake.new, 1))
    _named(one_line(result), str(scenario), mistake.key)


SET_MISTAKES = [
    ("batches.weekday=-5", "batches.weekday"),
    ("batches.weekday=true", "batches.weekday"),
    ("batches.weekday=abc", "batches.weekday"),
    ("batches.weekday=1e400", "batches.weekday"),
    ("batches.weekday=99999999999999999999999", "batches.weekday"),
    ("batches.wekday=5", "batches.wekday"),
    ("batch.weekday=5", "batch"),
    ("throttle.scale=inf", "throttle.scale"),
    ("throttle.scale=nan", "throttle.scale"),
    ("throttle.scale=-1", "throttle.scale"),
    ("failures.rate=30", "failures.rate"),
    ("failures.rate=3%", "failures.rate"),
    ("scenario.horizon_days=99999", "scenario.horizon_days"),
    ("scenario.deadline=2021-02-30", "scenario.deadline"),
    ("scenario.start=next monday", "scenario.start"),
    ("calendar.holidays=ZZ", "calendar.holidays"),
    ("calendar.timezone=Mars/Olympus", "calendar.timezone"),
    ("batches.cutover_time=25:00", "batches.cutover_time"),
    ("batches.cutover_time=true", "batches.cutover_time"),
    ("support.agents=2.5", "support.agents"),
    ('support.agents={dist="uniform", low=0, high=3}', "support.agents"),
    ('support.agents={dist="uniform", low=1', "support.agents"),
    ("population.mailboxes=0", "population.mailboxes"),
    ("population.mailboxes=1000000", "population.mailboxes"),
    ("batches=5", "batches"),
    ("throttle.holidays_as_weekend=yes", "throttle.holidays_as_weekend"),
    ("calendar.weekend=sat", "calendar.weekend"),
    ("support.ticket_rate=", "support.ticket_rate"),
]


@pytest.mark.parametrize(
    ("assignment", "key", "command"),
    [(a, k, c) for (a, k), c in _commands_in_turn(SET_MISTAKES, list(COMMANDS))],
)
def test_a_bad_set_is_blamed_on_set_with_its_key(place, assignment, key, command):
    result, _ = invoke(place, command, BASE, ["--set", assignment])
    _named(one_line(result), "--set", key)


def test_a_set_without_equals_names_set(place):
    result, _ = invoke(place, "run", BASE, ["--set", "batches.weekday"])
    assert one_line(result).startswith("--set: batches.weekday: expected KEY=VALUE")


# Options: (command, extra arguments, the option the line must start with)
OPTION_MISTAKES = [
    ("run", ["-n", "0"], "--replications"),
    ("run", ["-n", "-3"], "--replications"),
    ("run", ["-w", "0"], "--workers"),
    ("run", ["--seed", "-1"], "--seed"),
    ("run", ["--seed", "99999999999999999999999"], "--seed"),
    ("run", ["--max-memory", "0"], "--max-memory"),
    ("run", ["--max-memory", "-2"], "--max-memory"),
    ("check", ["--deadline", "2024-13-01"], "--deadline"),
    ("check", ["--deadline", "29/03/2024"], "--deadline"),
    ("check", ["--deadline", "2023-12-01"], "--deadline"),
    ("check", ["--confidence", "90"], "--confidence"),
    ("check", ["--confidence", "0"], "--confidence"),
    ("check", ["--confidence", "-0.5"], "--confidence"),
    ("check", ["-n", "0"], "--replications"),
    ("sweep", ["--vary", "batches.wekday=1,2"], "--vary"),
    ("sweep", ["--vary", "batches.weekday"], "--vary"),
    ("sweep", ["--vary", "batches.weekday="], "--vary"),
    ("sweep", ["--vary", "batches.weekday=a,b"], "--vary"),
    ("sweep", ["--vary", "batches.weekday=-5,10"], "--vary"),
    ("sweep", ["--vary", "batches.weekday=30:10:5"], "--vary"),
    ("sweep", ["--method", "random"], "--method"),
    ("sweep", ["--method", "lhs"], "--samples"),
    ("sweep", ["--samples", "0"], "--samples"),
    ("report", ["--confidence", "1.5"], "--confidence"),
    ("report", ["-w", "0"], "--workers"),
    ("plan", ["--seed", "-1"], "--seed"),
    ("solve", ["--for", "batches.wekday"], "--for"),
    ("solve", ["--for", "scenario.seed"], "--for"),
    ("solve", ["--for", "batches"], "--for"),
    ("solve", ["--low", "10", "--high", "5"], "--low"),
    ("solve", ["--confidence", "1.5"], "--confidence"),
    ("solve", ["--wait-hours-p90", "-1"], "--wait-hours-p90"),
    ("solve", ["--deadline", "2024-02-30"], "--deadline"),
    ("solve", ["--direction", "up"], "--direction"),
    ("sensitivity", ["--params", "support.agentz"], "--params"),
    ("sensitivity", ["--method", "anova"], "--method"),
    ("sensitivity", ["--change", "20"], "--change"),
    ("sensitivity", ["--samples", "0"], "--samples"),
    ("forecast", ["-n", "0"], "--replications"),
]


@pytest.mark.parametrize(
    ("command", "extra", "option"),
    OPTION_MISTAKES,
    ids=[f"{c}-{' '.join(e)}" for c, e, _ in OPTION_MISTAKES],
)
def test_a_bad_option_is_one_line_naming_the_option(place, command, extra, option):
    result, _ = invoke(place, command, BASE, extra)
    line = one_line(result)
    assert option in line.split(":")[0] or (
        line.startswith(f"migsim {command}: ") and option in line
    ), line


FORECAST_ACTUALS = [
    ("missing", None, "no such file"),
    ("a folder", "DIR", "is a folder, not a CSV file"),
    ("a workbook", b"PK\x03\x04\x14\x00" + bytes(40), "is an Excel workbook"),
    ("date not a date", "date,migrated\n2024-01-32,20\n", "date"),
    ("negative count", "date,migrated\n2024-01-08,-20\n", "migrated"),
    ("no migrated column", "date,moved\n2024-01-08,20\n", "migrated"),
    ("empty", "date,migrated\n", "actuals.csv"),
]


@pytest.mark.parametrize(
    ("what", "content", "named"), FORECAST_ACTUALS, ids=lambda v: v if isinstance(v, str) else None
)
def test_bad_actuals_are_one_line_naming_the_file_and_column(place, what, content, named):
    actuals = place / "actuals.csv"
    actuals.unlink()
    if content == "DIR":
        actuals.mkdir()
    elif isinstance(content, bytes):
        actuals.write_bytes(content)
    elif content is not None:
        actuals.write_text(content)
    result, _ = invoke(place, "forecast", BASE)
    line = one_line(result)
    assert str(actuals) in line or "--actuals" in line, line
    assert named in line, line


MOVE_REPORTS = [
    ("missing", None, "no such file"),
    ("a folder", "DIR", "is a folder, not a CSV file"),
    ("a workbook", b"PK\x03\x04\x14\x00" + bytes(40), "is an Excel workbook"),
    ("the scenario instead", "[scenario]\nname = 'x'\n", "DisplayName or Identity"),
]


@pytest.mark.parametrize(
    ("what", "content", "named"), MOVE_REPORTS, ids=[m[0] for m in MOVE_REPORTS]
)
def test_calibrate_names_a_move_report_that_is_not_one(place, what, content, named):
    if "calibrate" not in _other_commands():
        pytest.skip("no calibrate command")
    scenario = place / "plan.toml"
    scenario.write_text(BASE)
    moves = place / "moves.csv"
    if content == "DIR":
        moves.mkdir()
    elif isinstance(content, bytes):
        moves.write_bytes(content)
    elif content is not None:
        moves.write_text(content)
    out = place / "calibrated.toml"
    args = ["calibrate", str(scenario), "--moves", str(moves), "--out", str(out)]
    line = one_line(CliRunner().invoke(app, args, prog_name="migsim"))
    assert line.startswith(f"{moves}: ") and named in line, line
    assert not out.exists()


SCENARIO_PATHS = ["missing.toml", "a-folder", "mailboxes.csv", "mailboxes.xlsx"]


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("path", SCENARIO_PATHS)
def test_a_scenario_that_is_not_a_scenario_file_is_named(place, command, path):
    args, earlier = COMMANDS[command]
    out = place / "out"
    if earlier:
        out.mkdir()
        (out / earlier).write_text("earlier")
    before = _snapshot(out)
    target = place / path
    filled = [a.format(S=target, O=out, A=place / "actuals.csv") for a in args]
    result = CliRunner().invoke(app, filled, prog_name="migsim")
    assert one_line(result).startswith(f"{target}: ")
    assert _snapshot(out) == before


@pytest.mark.parametrize("command", ["run", "report", "plan", "sweep", "sensitivity", "forecast"])
def test_an_out_that_is_a_file_is_named_and_left_alone(place, command):
    scenario = place / "plan.toml"
    scenario.write_text(BASE)
    args, _ = COMMANDS[command]
    out = place / "out"
    out.write_text("not a folder")
    filled = [a.format(S=scenario, O=out, A=place / "actuals.csv") for a in args]
    result = CliRunner().invoke(app, filled, prog_name="migsim")
    line = one_line(result)
    assert str(out) in line and ("--out" in line or line.startswith(str(out))), line
    assert out.read_text() == "not a folder"


def test_a_run_too_big_for_memory_says_so_and_what_to_change(place, monkeypatch):
    monkeypatch.setattr(feasibility, "memory_limit_gb", lambda: 1.0)
    result, scenario = invoke(place, "run", BASE, ["-n", "10000000"])
    line = one_line(result)
    assert line.startswith(f"{scenario}: scenario.replications: 10,000,000 replications")
    assert "GB of memory" in line and "replications fit" in line


def test_an_unknown_top_level_option_is_one_line():
    result = CliRunner().invoke(app, ["--bogus"], prog_name="migsim")
    assert result.exit_code == 2
    assert result.stderr.strip() == "migsim: No such option: --bogus (see migsim --help)"


def test_an_unknown_command_is_one_line():
    result = CliRunner().invoke(app, ["simulate", "x.toml"], prog_name="migsim")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "simulate" in result.stderr


def test_the_suite_holds_at_least_a_hundred_mistakes():
    cases = (
        len(FILE_MISTAKES)
        + len(NEVER_FINISHES) * len(SIMULATING)
        + len(SET_MISTAKES)
        + len(OPTION_MISTAKES)
        + len(FORECAST_ACTUALS)
        + len(SCENARIO_PATHS) * len(COMMANDS)
        + len(INVENTORY_ROWS)
        + len(MOVE_REPORTS)
        + len(LANE_MISTAKES)
    )
    assert cases >= 100


def _other_commands() -> list[str]:
    """Commands written after this suite (calibrate, compare, ...): the app serves a page."""
    import typer.main

    group = typer.main.get_command(app)
    return sorted(set(group.commands) - set(COMMANDS) - {"app"})


@pytest.mark.parametrize("command", _other_commands() or ["none"])
def test_any_other_command_refuses_a_missing_scenario_in_one_line(place, command):
    if command == "none":
        pytest.skip("no command beyond those above")
    missing = place / "missing.toml"
    result = CliRunner().invoke(app, [command, str(missing)], prog_name="migsim")
    line = one_line(result)
    assert line.startswith(f"{missing}: ") or "'--" in line, line


INVENTORY_ROWS = [
    ("negative size", "mailbox,size_gb\na@x.org,1\nb@x.org,-2\n", "row 3, column size_gb"),
    ("duplicate mailbox", "mailbox,size_gb\na@x.org,1\na@x.org,2\n", "row 3, column mailbox"),
    ("size as words", "mailbox,size_gb\na@x.org,1\nb@x.org,lots\n", "row 3, column size_gb"),
    ("size column misnamed", "mailbox,size\na@x.org,1\n", "column size_gb"),
    ("empty file", "", "column mailbox"),
]
DRAWN = "mailboxes = 200\norganisations = 4\nsize_gb = { mean = 1.0, sigma = 0.5, max = 20.0 }"


@pytest.mark.parametrize(
    ("what", "content", "where", "command"),
    [(*case, c) for case, c in _commands_in_turn(INVENTORY_ROWS, SIMULATING)],
    ids=[case[0] for case in INVENTORY_ROWS],
)
def test_a_bad_inventory_row_is_one_line_naming_the_file_row_and_column(
    place, what, content, where, command
):
    (place / "mailboxes.csv").write_text(content)
    text = BASE.replace(DRAWN, 'inventory = "mailboxes.csv"')
    result, _ = invoke(place, command, text)
    line = one_line(result)
    assert line.split(": ")[0].endswith("mailboxes.csv") and where in line, line


LANED = BASE.replace(
    "legacy_client_share = 0.1",
    "legacy_client_share = 0.1\nkinds = { user = 0.8, application = 0.2 }",
).replace(
    "[failures]",
    '[[lanes]]\nname = "accounts"\nkinds = ["application"]\nfrom = 2024-01-15\n'
    "weekday = 10\nweekend_day = 0\n\n[failures]",
)
LANE_MISTAKES = [
    _file("lane kind misspelt", '["application"]', '["aplication"]', "lanes[0].kinds[0]"),
    _file(
        "lane kind twice", '["application"]', '["application", "application"]', "lanes[0].kinds[1]"
    ),
    _file(
        "kind shares as percent",
        "user = 0.8, application = 0.2",
        "user = 80, application = 20",
        "population.kinds.user",
    ),
    _file("kind share as true", "user = 0.8", "user = true", "population.kinds.user"),
    _file("lane batch as true", "weekday = 10\n", "weekday = true\n", "lanes[0].weekday"),
    _file("lane without a first day", "from = 2024-01-15\n", "", "lanes[0].from"),
    _file(
        "lane starts after the horizon", "from = 2024-01-15", "from = 2025-01-15", "lanes[0].from"
    ),
    _file(
        "carried over spelt wrong",
        "[batches]\n",
        '[batches]\ncarried_over = "last"\n',
        "batches.carried_over",
    ),
]


def test_the_laned_scenario_is_valid(place):
    scenario = place / "plan.toml"
    scenario.write_text(LANED)
    result = CliRunner().invoke(app, ["validate", str(scenario)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("mistake", "command"),
    _commands_in_turn(LANE_MISTAKES, list(COMMANDS)),
    ids=lambda value: value.id if isinstance(value, Mistake) else value,
)
def test_a_mistake_in_a_lane_is_one_line_naming_the_file_and_key(place, mistake, command):
    assert mistake.old in LANED, mistake.id
    result, scenario = invoke(place, command, LANED.replace(mistake.old, mistake.new, 1))
    _named(one_line(result), str(scenario), mistake.key)
