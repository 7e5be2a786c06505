"""A malformed actuals CSV is one line naming the file, the row and the column, exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sim.cli import app

SMALL = "scenarios/small-trust.toml"  # starts Monday 2024-03-04, 5,000 mailboxes, 120 days
runner = CliRunner()

GOOD_HEAD = "date,migrated,failed,tickets_opened\n2024-03-04,50,0,1\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,failed\n2024-03-04,0\n", "migrated: column is missing"),
        ("migrated\n50\n", "date: column is missing"),
        ("date,migrated,tickets\n2024-03-04,50,1\n", "tickets: unknown column; did you mean"),
        (
            GOOD_HEAD + "2024-03-32,50,0,1\n",
            "row 3, date: must be a date YYYY-MM-DD (got '2024-03-32')",
        ),
        (GOOD_HEAD + "05/03/2024,50,0,1\n", "row 3, date: must be a date YYYY-MM-DD"),
        (
            GOOD_HEAD + "2024-03-05,-5,0,1\n",
            "row 3, migrated: must be a whole number >= 0 (got '-5')",
        ),
        (
            GOOD_HEAD + "2024-03-05,50,1.5,1\n",
            "row 3, failed: must be a whole number >= 0 (got '1.5')",
        ),
        (GOOD_HEAD + "2024-03-05,50,0,\n", "row 3, tickets_opened: must be a whole number >= 0"),
        (GOOD_HEAD + "2024-03-04,50,0,1\n", "row 3, date: 2024-03-04 repeats the previous row's"),
        (
            "date,migrated\n2024-03-05,50\n2024-03-04,50\n",
            "row 3, date: 2024-03-04 comes before the previous row's 2024-03-05",
        ),
        ("date,migrated\n2024-03-01,50\n", "row 2, date: 2024-03-01 is before the scenario's"),
        (GOOD_HEAD + "2024-08-01,50,0,1\n", "row 3, date: 2024-08-01 is beyond the horizon"),
        (
            "date,migrated\n2024-03-04,3000\n2024-03-05,2001\n",
            "row 3, migrated: cumulative migrated 5,001 exceeds population.mailboxes",
        ),
        ("date,migrated\n", "has no rows"),
        ("", "is empty"),
    ],
)
def test_bad_actuals_exit_2_with_one_line_naming_file_row_and_column(tmp_path, text, message):
    path = tmp_path / "actuals.csv"
    path.write_text(text)
    result = runner.invoke(app, ["forecast", SMALL, "--actuals", str(path), "-n", "1", "-w", "1"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: ") and message in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_a_missing_actuals_file_is_bad_input(tmp_path):
    missing = tmp_path / "nope.csv"
    result = runner.invoke(app, ["forecast", SMALL, "--actuals", str(missing)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{missing}: no such file"


def test_actuals_given_only_on_cutover_days_count_other_days_as_zero(make_scenario):
    import pandas as pd

    from sim.experiments.actuals import validate_actuals
    from sim.model.calendar import build_calendar

    sc = make_scenario()  # starts Monday 2024-01-08
    frame = pd.DataFrame({"date": ["2024-01-08", "2024-01-10"], "migrated": [100, 100]})
    actuals = validate_actuals(frame, sc, build_calendar(sc))
    assert str(actuals.as_of) == "2024-01-10"
    assert actuals.migrated.tolist() == [100, 0, 100]
    assert actuals.failed is None and actuals.tickets_opened is None
