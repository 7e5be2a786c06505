"""The real mailbox list: read, checked, and used by the model instead of drawn sizes."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.model.inventory import read_inventory
from sim.model.replication import simulate
from sim.model.scenario import ScenarioError, from_dict, load, loads, with_overrides
from tests.conftest import BASE

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "scenarios" / "inventory-example.toml"


def inventory_scenario(path: Path, **tables) -> sim.Scenario:
    """The test BASE plan with its population read from ``path``."""
    raw = {k: dict(v) for k, v in BASE.items()}
    raw["population"] = {"inventory": str(path)}
    for table, values in tables.items():
        raw[table] = {**raw.get(table, {}), **values}
    return from_dict(raw, source="test.toml")


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "inv.csv") -> Path:
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def shuffled_organisations(rng: np.random.Generator, sizes: list[int]) -> pd.DataFrame:
    """Mailboxes of organisations of these sizes, rows in random order (as exports are)."""
    org = np.repeat(np.arange(len(sizes)), sizes)
    n = len(org)
    frame = pd.DataFrame(
        {
            "mailbox": [f"user{i}@trust{o}.nhs.uk" for i, o in enumerate(org)],
            "organisation": [f"Organisation {o}" for o in org],
            # Whole eighths of a GB: every sum of them is exact in binary floating point.
            "size_gb": rng.integers(0, 40, n) / 8.0,
        }
    )
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)


# --- reading --------------------------------------------------------------------------------


def test_inventory_fills_in_mailboxes_and_organisations(tmp_path):
    frame = shuffled_organisations(np.random.default_rng(0), [5, 3, 2])
    sc = inventory_scenario(write(tmp_path, frame))
    assert sc.population.mailboxes == 10
    assert sc.population.organisations == 3


def test_csv_and_parquet_read_the_same(tmp_path):
    frame = shuffled_organisations(np.random.default_rng(0), [50, 30, 20])
    frame["item_count"] = np.arange(len(frame)) * 7
    frame["legacy"] = np.arange(len(frame)) % 3 == 0
    a = read_inventory(write(tmp_path, frame))
    b = read_inventory(write(tmp_path, frame, "inv.parquet"))
    assert a.mailbox.equals(b.mailbox)
    for field in ("size_gb", "organisation", "item_count", "legacy", "row"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_a_parquet_of_several_chunks_is_read_intact_and_its_duplicates_found(tmp_path):
    # 140,000 rows: pyarrow reads them as chunks sharing one buffer, on which its ascii
    # kernels (applied directly) return corrupt strings; a duplicate spans the chunks.
    ids = [f"User.{i:06d}@NHS.net" for i in range(140_000)]
    frame = pd.DataFrame({"mailbox": ids, "size_gb": 1.0})
    inv = read_inventory(write(tmp_path, frame, "big.parquet"))
    assert inv.mailbox.to_pylist() == ids
    frame.loc[len(frame)] = ["user.000007@nhs.NET", 2.0]
    with pytest.raises(ValueError, match=r"row 140002, column mailbox: duplicate of row 9 "):
        read_inventory(write(tmp_path, frame, "dup.parquet"))


def test_rows_are_grouped_by_organisation_keeping_file_order(tmp_path):
    frame = pd.DataFrame(
        {
            "mailbox": ["a", "b", "c", "d", "e"],
            "organisation": ["X", "Y", "X", "Z", "Y"],
            "size_gb": [1, 2, 3, 4, 5],
        }
    )
    inv = read_inventory(write(tmp_path, frame))
    assert inv.mailbox.to_pylist() == ["a", "c", "b", "e", "d"]
    assert list(inv.organisation_names[inv.organisation]) == ["X", "X", "Y", "Y", "Z"]
    assert list(inv.row) == [2, 4, 3, 6, 5]  # spreadsheet rows: the header is row 1


def test_column_names_match_without_case_and_extra_columns_are_ignored(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("Mailbox, Size_GB ,DisplayName,LEGACY\na@x,1.5,A,Yes\nb@x,0,B,no\n")
    inv = read_inventory(path)
    assert inv.size_gb.tolist() == [1.5, 0.0]
    assert inv.legacy.tolist() == [True, False]


def test_a_semicolon_csv_takes_decimal_commas(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("\ufeffmailbox;size_gb;item_count\na@x;1,5;10\nb@x;2;20\n", encoding="utf-8")
    assert read_inventory(path).size_gb.tolist() == [1.5, 2.0]
    path.write_text("mailbox;size_gb\na@x;1,5\nb@x;-2,5\n")
    with pytest.raises(ValueError, match="row 3, column size_gb: must be >= 0"):
        read_inventory(path)


def test_a_relative_inventory_is_relative_to_the_scenario_file(tmp_path, monkeypatch):
    folder = tmp_path / "plans"
    folder.mkdir()
    write(folder, shuffled_organisations(np.random.default_rng(0), [4]))
    (folder / "plan.toml").write_text(
        '[scenario]\nname = "x"\nstart = 2024-01-08\n[population]\ninventory = "inv.csv"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert load("plans/plan.toml").population.mailboxes == 4
    text = (folder / "plan.toml").read_text()
    assert loads(text, base_dir=folder).population.mailboxes == 4
    with pytest.raises(ScenarioError, match="no such file"):
        loads(text)  # relative to the working folder, where there is none


def test_overrides_keep_an_inventory_scenario_loadable(tmp_path):
    sc = inventory_scenario(write(tmp_path, shuffled_organisations(np.random.default_rng(0), [9])))
    again = with_overrides(sc, {"batches.weekday": 3}, source="--set")
    assert again.batches.weekday == 3
    assert again.population == sc.population


# --- bad input: one line naming the file, the row (spreadsheet numbering) and the column -----

GOOD = "mailbox,size_gb,organisation,item_count,legacy\na@x,1.0,T,10,true\nb@x,2.0,T,20,false\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "mailbox,size\na@x,1\n",
            "inv.csv: column size_gb: is required (the file has: mailbox, size)",
        ),
        ("size_gb\n1\n", "inv.csv: column mailbox: is required"),
        (GOOD + "A@X,3.0,T,1,true\n", "inv.csv: row 4, column mailbox: duplicate of row 2"),
        (GOOD + "b@x,3.0,T,1,true\n", "inv.csv: row 4, column mailbox: duplicate of row 3 ('b@x')"),
        (GOOD + ",3.0,T,1,true\n", "inv.csv: row 4, column mailbox: is empty"),
        (GOOD + "c@x,-0.5,T,1,true\n", "inv.csv: row 4, column size_gb: must be >= 0 (got -0.5)"),
        (
            GOOD + "c@x,big,T,1,true\n",
            "inv.csv: row 4, column size_gb: must be a number (got 'big')",
        ),
        (GOOD + "c@x,,T,1,true\n", "inv.csv: row 4, column size_gb: is empty"),
        (GOOD + "c@x,1,T,-1,true\n", "inv.csv: row 4, column item_count: must be >= 0 (got -1)"),
        (GOOD + "c@x,1,T,2.5,true\n", "inv.csv: row 4, column item_count: must be a whole number"),
        (
            GOOD + "c@x,1,T,3,maybe\n",
            "inv.csv: row 4, column legacy: must be true or false (got 'maybe')",
        ),
        (GOOD + "c@x,1,T,3\n", "inv.csv: row 4: not a valid CSV row"),
    ],
)
def test_a_bad_inventory_is_one_line_naming_file_row_and_column(
    tmp_path, monkeypatch, text, expected
):
    monkeypatch.chdir(tmp_path)
    Path("inv.csv").write_text(text)
    with pytest.raises(ScenarioError) as error:
        inventory_scenario(Path("inv.csv"))
    message = str(error.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_a_bad_parquet_cell_names_its_row_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"mailbox": ["a", "b", "c"], "size_gb": ["1", "2", "lots"]}).to_parquet(
        "i.parquet"
    )
    with pytest.raises(ScenarioError, match=r"^i.parquet: row 4, column size_gb: must be a number"):
        inventory_scenario(Path("i.parquet"))


def test_a_missing_inventory_names_the_scenario_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        ScenarioError, match=r"^test.toml: population.inventory: no such file: x.csv$"
    ):
        inventory_scenario(Path("x.csv"))


@pytest.mark.parametrize("key", ["mailboxes", "organisations", "size_gb"])
def test_an_inventory_with_drawn_population_keys_is_an_error(tmp_path, key):
    path = write(tmp_path, shuffled_organisations(np.random.default_rng(0), [3]))
    value = {"mean": 1.0} if key == "size_gb" else 3
    raw = {k: dict(v) for k, v in BASE.items()}
    raw["population"] = {"inventory": str(path), key: value}
    with pytest.raises(ScenarioError, match=rf"^test.toml: population.{key}: must not be given"):
        from_dict(raw, source="test.toml")


def test_legacy_share_with_a_legacy_column_is_an_error(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("mailbox,size_gb,legacy\na,1,true\n")
    raw = {k: dict(v) for k, v in BASE.items()}
    raw["population"] = {"inventory": str(path), "legacy_client_share": 0.2}
    with pytest.raises(ScenarioError, match=r"population\.legacy_client_share: must not be given"):
        from_dict(raw, source="test.toml")


def test_the_cli_turns_a_bad_inventory_into_exit_2_and_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("inv.csv").write_text("mailbox,size_gb\na@x,1\nb@x,-3\n")
    Path("plan.toml").write_text(
        '[scenario]\nname = "x"\nstart = 2024-01-08\n[population]\ninventory = "inv.csv"\n'
    )
    for command in (["validate", "plan.toml"], ["plan", "plan.toml", "--out", "out"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2
        assert result.output.strip() == "inv.csv: row 3, column size_gb: must be >= 0 (got -3)"
    assert not Path("out").exists()


# --- the model on an inventory ----------------------------------------------------------------


def test_the_mailbox_table_carries_the_real_ids_and_organisation_names(tmp_path):
    frame = shuffled_organisations(np.random.default_rng(2), [30, 20, 10])
    run = simulate(inventory_scenario(write(tmp_path, frame)), 1)
    mb = run.mailboxes.set_index("mailbox")
    assert sorted(mb.index) == sorted(frame["mailbox"])
    expected = frame.set_index("mailbox").loc[mb.index]
    assert list(mb["organisation"].astype(str)) == list(expected["organisation"])
    np.testing.assert_array_equal(mb["size_gb"], expected["size_gb"])


def test_data_moved_equals_the_inventorys_total_size_when_every_mailbox_migrates(tmp_path):
    frame = shuffled_organisations(np.random.default_rng(3), [400, 250, 150, 100])
    total_gb = math.fsum(frame["size_gb"])  # exact: whole eighths of a GB
    run = simulate(inventory_scenario(write(tmp_path, frame)), 4)
    assert run.metrics["migrated"] == len(frame)
    assert run.metrics["data_tb"] == total_gb / 1000.0
    assert run.daily["presync_gb"].sum() == pytest.approx(total_gb, rel=1e-12)


def test_by_organisation_keeps_each_organisation_on_as_few_consecutive_days_as_batches_allow(
    tmp_path,
):
    batch = 100
    sizes = [7, 100, 40, 230, 99, 1, 61, 150, 12, 300, 55]
    frame = shuffled_organisations(np.random.default_rng(5), sizes)
    sc = inventory_scenario(
        write(tmp_path, frame), batches={"weekday": batch, "selection": "by_organisation"}
    )
    mb = simulate(sc, 6).mailboxes
    cutover_dates = pd.bdate_range(sc.scenario.start, periods=200)  # weekdays, no holidays
    day_number = {d: i for i, d in enumerate(cutover_dates)}
    mb = mb.assign(scheduled_date=mb["scheduled_date"].dt.tz_localize(None))  # local days
    per_day = mb["scheduled_date"].map(day_number).value_counts()
    for name, group in mb.groupby("organisation", observed=True):
        days = sorted({day_number[d] for d in group["scheduled_date"]})
        size = len(group)
        assert days == list(range(days[0], days[-1] + 1)), name  # consecutive cutover days
        if size <= batch:
            assert len(days) == 1, name
        else:  # starting in what is left of a day costs at most one extra day
            assert len(days) <= math.ceil(size / batch) + 1, name
            # ... and every day between its first and last is a whole batch of its own.
            middle = group["scheduled_date"].map(day_number).isin(days[1:-1])
            assert middle.sum() == batch * (len(days) - 2), name
            assert (per_day.loc[days[1:-1]] == batch).all(), name


# --- item counts ------------------------------------------------------------------------------

# DOMAIN.md: 377 MB in 4,115 items took 4 h 24 min; 249 MB in 12,779 items 10 h 50 min.
# If a move takes max(size / g, items / r), the second cannot be size-bound at the first's
# pace (0.249 / (0.377 / 4.4) = 2.9 h < 10.83 h), so it is item-bound: r = 12,779 / 10.83 h =
# 1,180 items/h, and the first is size-bound (4,115 / 1,180 = 3.5 h < 4.4 h): g = 0.0857 GB/h.
DOMAIN_GB_PER_HOUR = 0.377 / (4 + 24 / 60)
DOMAIN_ITEMS_PER_HOUR = 12_779 / (10 + 50 / 60)


def sync_hours(mb: pd.DataFrame, sc: sim.Scenario) -> pd.Series:
    """Hours from each mailbox's eligibility (lead days before its cutover) to its sync."""
    cutover = mb["scheduled_date"] + pd.Timedelta(minutes=sc.batches.cutover_time)
    eligible = cutover - pd.Timedelta(days=sc.throttle.presync_lead_days)
    return (mb["synced_at"] - eligible) / pd.Timedelta(hours=1)


def item_scenario(tmp_path: Path, frame: pd.DataFrame, items_per_hour: float | None):
    throttle = dict(BASE["throttle"], per_move_gb_per_hour=DOMAIN_GB_PER_HOUR)
    if items_per_hour is not None:
        throttle["per_move_items_per_hour"] = items_per_hour
    return inventory_scenario(write(tmp_path, frame), throttle=throttle)


ITEMS = pd.DataFrame(
    {
        "mailbox": ["domain-a", "domain-b", "big-few-items", "small-many-items", "empty"],
        "size_gb": [0.377, 0.249, 2.0, 0.01, 0.0],
        "item_count": [4_115, 12_779, 10, 30_000, 0],
    }
)


def test_domain_md_moves_take_their_reported_times(tmp_path):
    sc = item_scenario(tmp_path, ITEMS, DOMAIN_ITEMS_PER_HOUR)
    mb = simulate(sc, 1).mailboxes.set_index("mailbox")
    hours = sync_hours(mb, sc)
    assert hours["domain-a"] == pytest.approx(4 + 24 / 60, abs=1e-6)  # size-bound
    assert hours["domain-b"] == pytest.approx(10 + 50 / 60, abs=1e-6)  # item-bound


def test_item_bound_moves_take_the_closed_form_time(tmp_path):
    sc = item_scenario(tmp_path, ITEMS, DOMAIN_ITEMS_PER_HOUR)
    mb = simulate(sc, 1).mailboxes.set_index("mailbox")
    spec = ITEMS.set_index("mailbox").loc[mb.index]
    expected = np.maximum(
        spec["size_gb"] / DOMAIN_GB_PER_HOUR, spec["item_count"] / DOMAIN_ITEMS_PER_HOUR
    )
    np.testing.assert_allclose(sync_hours(mb, sc), expected, atol=1e-6)


def test_without_an_item_rate_item_counts_change_nothing(tmp_path):
    with_items = simulate(item_scenario(tmp_path, ITEMS, None), 1)
    without = simulate(item_scenario(tmp_path, ITEMS.drop(columns="item_count"), None), 1)
    pd.testing.assert_frame_equal(with_items.mailboxes, without.mailboxes)
    hours = sync_hours(
        with_items.mailboxes.set_index("mailbox"), item_scenario(tmp_path, ITEMS, None)
    )
    np.testing.assert_allclose(
        hours, ITEMS.set_index("mailbox")["size_gb"] / DOMAIN_GB_PER_HOUR, atol=1e-6
    )


def test_item_counts_slow_moves_but_not_the_data_moved(tmp_path):
    slow = simulate(item_scenario(tmp_path, ITEMS, DOMAIN_ITEMS_PER_HOUR), 1)
    fast = simulate(item_scenario(tmp_path, ITEMS, None), 1)
    assert slow.metrics["data_tb"] == pytest.approx(fast.metrics["data_tb"], rel=1e-12)
    assert (slow.mailboxes["synced_at"] >= fast.mailboxes["synced_at"]).all()


# --- the bundled example ------------------------------------------------------------------------


def test_the_bundled_example_runs_from_any_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sc = sim.load(EXAMPLE)
    assert sc.population.mailboxes == 3_000
    res = sim.run(sc, replications=2, workers=1)
    assert res.summary["migrated"]["p50"] == 3_000
    assert res.mailboxes["mailbox"].str.endswith("@nhs.net").all()
    assert res.scenario.scenario.start == dt.date(2024, 3, 4)


def _reads_in_worker(scenario: sim.Scenario) -> int:
    """Inventory files read while a worker builds a model and runs one replication."""
    from sim.model import inventory

    before = inventory._load_cached.cache_info().misses
    sim.Model(scenario).replicate(np.random.SeedSequence(1))
    return inventory._load_cached.cache_info().misses - before


def test_workers_forked_after_loading_do_not_read_the_inventory_again(tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    sc = inventory_scenario(write(tmp_path, shuffled_organisations(np.random.default_rng(1), [50])))
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(1, mp_context=fork) as pool:
        assert pool.submit(_reads_in_worker, sc).result() == 0


def test_set_inventory_is_relative_to_the_scenario_file(tmp_path, monkeypatch):
    folder = tmp_path / "plans"
    folder.mkdir()
    write(folder, shuffled_organisations(np.random.default_rng(0), [6]), "other.csv")
    (folder / "plan.toml").write_text(
        '[scenario]\nname = "x"\nstart = 2024-01-08\n[population]\nmailboxes = 10\n'
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app,
        ["validate", "plans/plan.toml", "--set", "population.inventory=other.csv"],
    )
    assert result.exit_code == 2  # the file's mailboxes = 10 conflicts with an inventory
    assert "population.mailboxes: must not be given with population.inventory" in result.output
    (folder / "plan.toml").write_text('[scenario]\nname = "x"\nstart = 2024-01-08\n[population]\n')
    result = CliRunner().invoke(
        app,
        ["validate", "plans/plan.toml", "--set", "population.inventory=other.csv"],
    )
    assert result.exit_code == 0, result.output
    assert "6 mailboxes" in result.output
