"""A sweep's folder on disk: built point by point, so a sweep can be resumed.

Unlike a run's folder (replaced whole at the end), a sweep's folder grows as
points finish, so hours of work survive an interrupt::

    sweep/manifest.json                    what the sweep is (checked by resume)
    sweep/points/point-00017.json          one finished point's summary
    sweep/points/point-00017.runs.parquet  its replications (written before the summary)
    sweep/sweep.parquet, sweep.csv         the table of the points done so far
    sweep/runs.parquet                     every replication of every point, at the end
    sweep/provenance.json                  how the sweep was made, at the end

Every file goes through :func:`sim.outputs.files.write_with`: whole or not at
all, readable by others. Problems with the folder raise
:class:`~sim.outputs.files.OutputError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sim.outputs.files import OutputError, check_folder_target, write_csv, write_json, write_parquet

SWEEP_FILES = (
    "manifest.json",
    "points",
    "sweep.parquet",
    "sweep.csv",
    "runs.parquet",
    "provenance.json",
    ".*.tmp",
)


class SweepFolder:
    """``manifest.json``, ``points/point-NNNNN.json`` and the table, all written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest = path / "manifest.json"
        self.points = path / "points"

    def check(self) -> None:
        """Raise :class:`OutputError` unless the folder can hold this sweep (nothing written)."""
        check_folder_target(self.path, SWEEP_FILES, replace=False)

    def start(self, definition: dict, resume: bool) -> dict[int, tuple[dict, pd.DataFrame]]:
        """Claim the folder; with ``resume``, the summaries and runs of points already
        finished."""
        self.check()
        if self.manifest.exists():
            if not resume:
                where = f"{self.path}: already holds a sweep"
                raise OutputError(
                    f"{where}: pass resume=True to finish it, or choose another out folder",
                    cli=f"{where}: pass --resume to finish it, or choose another --out",
                )
            self._check_same(definition)
            self._remove_stale_temporaries()
            return self._finished(definition["points"])
        write_json(self.manifest, definition)
        return {}

    def save_point(self, index: int, parameters: dict, summary: dict, runs: pd.DataFrame) -> None:
        # The runs first: a point counts as finished once its summary is there.
        write_parquet(self._runs_file(index), runs)
        write_json(self._point_file(index), {"point": index, "parameters": parameters, **summary})

    def save_table(self, table: pd.DataFrame) -> None:
        write_parquet(self.path / "sweep.parquet", table)
        write_csv(self.path / "sweep.csv", table)

    def save_runs(self, runs: pd.DataFrame) -> None:
        write_parquet(self.path / "runs.parquet", runs)

    def save_provenance(self, record: dict) -> None:
        write_json(self.path / "provenance.json", record)

    def _point_file(self, index: int) -> Path:
        return self.points / f"point-{index:05d}.json"

    def _runs_file(self, index: int) -> Path:
        return self.points / f"point-{index:05d}.runs.parquet"

    def _check_same(self, definition: dict) -> None:
        try:
            stored = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise OutputError(f"{self.manifest}: cannot read: {error}") from None
        for key, value in definition.items():
            if stored.get(key) != value:
                message = (
                    f"{self.manifest}: {key}: this sweep was started with "
                    f"{_short(stored.get(key))}, not {_short(value)}: resume it with the same "
                    "definition, or choose another"
                )
                raise OutputError(f"{message} out folder", cli=f"{message} --out")

    def _finished(self, points: list[dict]) -> dict[int, tuple[dict, pd.DataFrame]]:
        done = {}
        for index, parameters in enumerate(points):
            try:
                record = json.loads(self._point_file(index).read_text(encoding="utf-8"))
                runs = pd.read_parquet(self._runs_file(index))
            except (OSError, ValueError):
                continue  # missing (or unreadable, or from before runs were kept): run it again
            if record.pop("point", None) == index and record.pop("parameters", None) == parameters:
                done[index] = (record, runs)
        return done

    def _remove_stale_temporaries(self) -> None:
        # A SIGKILL mid-write skips atomic_path's clean-up; these names are only ever ours.
        stale = [
            *self.points.glob(".point-*.json.*.tmp"),
            *self.points.glob(".point-*.runs.parquet.*.tmp"),
            *self.path.glob(".sweep.*.tmp"),
            *self.path.glob(".runs.*.tmp"),
            *self.path.glob(".provenance.*.tmp"),
        ]
        for path in stale:
            path.unlink(missing_ok=True)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
