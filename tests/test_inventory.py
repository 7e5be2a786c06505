"""The real mailbox list: read, checked, and used by the model instead of drawn sizes."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.model.inventory import read_inventory
from sim.model.scenario import ScenarioError, from_dict, load, loads, with_overrides
from sim.model.simulation import simulate
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


# --- Exchange's own exports ---------------------------------------------------------------------

GIB = 1024**3


def exchange_text(n_bytes: int) -> str:
    """As Exchange prints a size: the leading figure rounded, the bytes exact."""
    return f"{n_bytes / GIB:.3f} GB ({n_bytes:,} bytes)"


def statistics_export(rng: np.random.Generator, n: int) -> pd.DataFrame:
    items, deleted_items = rng.integers(0, 90_000, n), rng.integers(0, 900, n)
    size, deleted = rng.integers(0, 60 * GIB, n), rng.integers(0, GIB, n)
    return pd.DataFrame(
        {
            "DisplayName": [f"Smith, Jane {i}" for i in range(n)],  # a comma inside quotes
            "PrimarySmtpAddress": [f"user{i}@trust{i % 3}.nhs.uk" for i in range(n)],
            "RecipientTypeDetails": rng.choice(
                [
                    "UserMailbox",
                    "SharedMailbox",
                    "RoomMailbox",
                    "EquipmentMailbox",
                    "LinkedMailbox",
                ],
                n,
            ),
            "Department": rng.choice(["Cardiology", "Radiology"], n),
            "ItemCount": items,
            "TotalItemSize": [exchange_text(int(b)) for b in size],
            "DeletedItemCount": deleted_items,
            "TotalDeletedItemSize": [exchange_text(int(b)) for b in deleted],
        }
    ).assign(_bytes=size + deleted, _items=items + deleted_items)


def write_export(frame: pd.DataFrame, path: Path, *, sep: str = ",", type_line: bool = True):
    """As Windows PowerShell 5's Export-Csv (-UseCulture for ';'): #TYPE, BOM, all quoted."""
    body = frame.drop(columns=["_bytes", "_items"], errors="ignore").to_csv(
        index=False, sep=sep, quoting=1
    )
    head = "#TYPE Selected.Microsoft.Exchange.Data.Mapi.MailboxStatistics\n" if type_line else ""
    path.write_text(head + body, encoding="utf-8-sig")
    return path


@pytest.mark.parametrize("sep", [",", ";"])
def test_an_export_with_text_sizes_gives_exactly_the_bytes_in_brackets(tmp_path, sep):
    frame = statistics_export(np.random.default_rng(4), 500)
    inv = read_inventory(write_export(frame, tmp_path / "export.csv", sep=sep))
    assert inv.format == "mailbox statistics export"
    by_id = dict(zip(inv.mailbox.to_pylist(), range(len(inv)), strict=True))
    order = [by_id[m] for m in frame["PrimarySmtpAddress"]]
    # GB is 2^30 bytes, so the division is exact: the bytes come back bit for bit.
    np.testing.assert_array_equal(inv.size_gb[order] * GIB, frame["_bytes"].to_numpy())
    np.testing.assert_array_equal(inv.item_count[order], frame["_items"].to_numpy())


def test_an_export_reads_kinds_ids_and_domains_as_the_spec_says(tmp_path):
    frame = statistics_export(np.random.default_rng(5), 60)
    inv = read_inventory(write_export(frame, tmp_path / "export.csv"))
    kinds = dict(zip(inv.mailbox.to_pylist(), inv.kind, strict=True))
    expected = {
        "UserMailbox": "user",
        "SharedMailbox": "shared",
        "RoomMailbox": "room",
        "EquipmentMailbox": "equipment",
        "LinkedMailbox": "linkedmailbox",
    }
    for address, detail in zip(
        frame["PrimarySmtpAddress"], frame["RecipientTypeDetails"], strict=True
    ):
        assert kinds[address] == expected[detail]
    assert sorted(inv.organisation_names) == ["trust0.nhs.uk", "trust1.nhs.uk", "trust2.nhs.uk"]
    assert set(inv.row) == set(range(3, 63))  # the #TYPE line is row 1, the header row 2
    departments = read_inventory(tmp_path / "export.csv", organisation_column="department")
    assert sorted(departments.organisation_names) == ["Cardiology", "Radiology"]
    # Without PrimarySmtpAddress the id is the next column of the SPEC's order present.
    write_export(frame.drop(columns="PrimarySmtpAddress"), tmp_path / "names.csv")
    assert set(read_inventory(tmp_path / "names.csv").mailbox.to_pylist()) == set(
        frame["DisplayName"]
    )


def test_a_usage_report_and_an_export_of_the_same_mailboxes_give_the_same_data(tmp_path):
    frame = statistics_export(np.random.default_rng(6), 400)
    usage = pd.DataFrame(
        {
            "Report Refresh Date": "2024-02-01",
            "User Principal Name": frame["PrimarySmtpAddress"],
            "Display Name": frame["DisplayName"],
            "Is Deleted": "False",
            "Item Count": frame["ItemCount"],
            "Storage Used (Byte)": frame["TotalItemSize"]
            .str.extract(r"\(([\d,]+) bytes")[0]
            .str.replace(",", "")
            .astype(np.int64),
            "Deleted Item Count": frame["DeletedItemCount"],
            "Deleted Item Size (Byte)": frame["TotalDeletedItemSize"]
            .str.extract(r"\(([\d,]+) bytes")[0]
            .str.replace(",", "")
            .astype(np.int64),
        }
    )
    usage_path = tmp_path / "usage.csv"
    usage.to_csv(usage_path, index=False)
    a = read_inventory(write_export(frame, tmp_path / "export.csv"))
    b = read_inventory(usage_path)
    assert b.format == "Microsoft 365 mailbox usage report"
    assert math.fsum(a.size_gb) * GIB == math.fsum(b.size_gb) * GIB == frame["_bytes"].sum()
    assert a.item_count.sum() == b.item_count.sum() == frame["_items"].sum()
    assert sorted(a.mailbox.to_pylist()) == sorted(b.mailbox.to_pylist())


def test_the_plain_format_takes_a_kind_column_defaulting_to_user(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("mailbox,size_gb,kind\na@x,1,user\nb@x,2,Shared\nc@x,3,\n")
    assert read_inventory(path).kind.tolist() == ["user", "shared", "user"]
    path.write_text("mailbox,size_gb\na@x,1\n")
    assert read_inventory(path).kind.tolist() == ["user"]


def test_a_scenario_reads_the_bundled_exchange_export_with_its_department_column():
    sc = sim.load(REPO / "scenarios" / "exchange-export.toml")
    assert sc.population.mailboxes == 20_000
    inv = read_inventory(sc.population.inventory, organisation_column="Department")
    assert set(inv.kind) == {"user", "shared", "room"}
    assert sc.population.organisations == len(inv.organisation_names) == 10


EXPORT_HEADER = '"DisplayName","PrimarySmtpAddress","TotalItemSize","ItemCount"\n'
EXPORT_ROW = '"A","a@x.org","1.5 GB (1,610,612,736 bytes)","10"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Name,Bytes\nx,1\n",
            "export.csv: unknown format: expected the columns mailbox,size_gb (migsim's own); "
            "or TotalItemSize and one of PrimarySmtpAddress/UserPrincipalName/MailboxGuid/"
            "DisplayName (mailbox statistics export); or User Principal Name,Storage Used (Byte)",
        ),
        (
            "#TYPE x\n"
            + EXPORT_HEADER
            + EXPORT_ROW
            + '"B","A@X.org","2 GB (2,147,483,648 bytes)","1"\n',
            "export.csv: row 4, column PrimarySmtpAddress: duplicate of row 3",
        ),
        (
            "#TYPE x\n" + EXPORT_HEADER + EXPORT_ROW + '"B","b@x.org","Unlimited","1"\n',
            "export.csv: row 4, column TotalItemSize: is 'Unlimited', not a size",
        ),
        (
            EXPORT_HEADER + EXPORT_ROW + '"B","b@x.org","","1"\n',
            "export.csv: row 3, column TotalItemSize: is empty",
        ),
        (
            EXPORT_HEADER + EXPORT_ROW + '"B","b@x.org","1.5 GB","1"\n',
            "export.csv: row 3, column TotalItemSize: must be bytes or e.g.",
        ),
        (
            EXPORT_HEADER + EXPORT_ROW + '"B","b@x.org","10","many"\n',
            "export.csv: row 3, column ItemCount: must be a whole number >= 0 (got 'many')",
        ),
        (
            EXPORT_HEADER + EXPORT_ROW + '"B","b@x.org","10"\n',
            "export.csv: row 3: not a valid CSV row",
        ),
    ],
)
def test_a_bad_export_is_one_line_naming_file_row_and_column_with_exit_2(
    tmp_path, monkeypatch, text, expected
):
    monkeypatch.chdir(tmp_path)
    Path("export.csv").write_text(text, encoding="utf-8-sig")
    Path("plan.toml").write_text(
        '[scenario]\nname = "x"\nstart = 2024-01-08\n[population]\ninventory = "export.csv"\n'
    )
    for command in (["validate", "plan.toml"], ["plan", "plan.toml", "--out", "out"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), result.output
    assert not Path("out").exists()


def test_an_organisation_column_that_is_not_in_the_file_names_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("export.csv").write_text(EXPORT_HEADER + EXPORT_ROW)
    Path("plan.toml").write_text(
        '[scenario]\nname = "x"\nstart = 2024-01-08\n[population]\ninventory = "export.csv"\n'
        'organisation_column = "Department"\n'
    )
    result = CliRunner().invoke(app, ["validate", "plan.toml"])
    assert result.exit_code == 2
    assert result.output.startswith(
        "export.csv: column Department: is named by population.organisation_column but missing"
    )


def test_an_organisation_column_without_an_inventory_is_an_error():
    raw = {k: dict(v) for k, v in BASE.items()}
    raw["population"] = {**raw.get("population", {}), "organisation_column": "Department"}
    with pytest.raises(
        ScenarioError, match=r"population.organisation_column: must be given with population"
    ):
        from_dict(raw, source="test.toml")


def test_the_plain_format_exported_by_windows_powershell_keeps_its_row_numbers(tmp_path):
    path = tmp_path / "inv.csv"
    head = '#TYPE Selected.System.Management.Automation.PSCustomObject\n"mailbox","size_gb"\n'
    path.write_text(head + '"a@x","1.5"\n"b@x","2"\n', encoding="utf-8-sig")
    inv = read_inventory(path)
    assert inv.size_gb.tolist() == [1.5, 2.0] and inv.row.tolist() == [3, 4]
    path.write_text(head + '"a@x","1.5"\n"b@x","-2"\n', encoding="utf-8-sig")
    with pytest.raises(ValueError, match=r"row 4, column size_gb: must be >= 0"):
        read_inventory(path)
    path.write_text(head + '"a@x","1.5"\n"b@x"\n', encoding="utf-8-sig")
    with pytest.raises(ValueError, match=r"row 4: not a valid CSV row"):
        read_inventory(path)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 10**17), min_size=1, max_size=30),
    st.sampled_from([",", ".", "\u00a0", "'"]),
    st.booleans(),
)
def test_any_byte_count_comes_back_exactly_from_exchanges_text(counts, separator, mixed):
    """Whatever the culture's digit grouping, the bytes in brackets are read exactly;
    a column mixing text and plain bytes is read too."""
    from sim.model.exchange import bytes_of

    def text(n: int) -> str:
        grouped = f"{n:,}".replace(",", separator)
        return f"{n / GIB:.3f} GB ({grouped} bytes)"

    cells = [str(n) if mixed and i % 2 else text(n) for i, n in enumerate(counts)]
    np.testing.assert_array_equal(bytes_of(pa.array(cells), "TotalItemSize"), counts)


def test_organisation_column_names_the_plain_formats_organisation_too(tmp_path):
    path = tmp_path / "inv.csv"
    path.write_text("mailbox,size_gb,organisation,Site\na@x,1,T,S2\nb@x,2,T,S1\nc@x,3,T,S2\n")
    inv = read_inventory(path, organisation_column="site")
    assert list(inv.organisation_names[inv.organisation]) == ["S1", "S2", "S2"]
    assert inv.mailbox.to_pylist() == ["b@x", "a@x", "c@x"]
