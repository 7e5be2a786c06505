"""Make the Exchange examples: a mailbox statistics export and a pilot's move report (seeded).

Run from the repository root::

    python scenarios/make_exchange_examples.py

* ``exchange-mailboxes.csv``: 20,000 mailboxes as Windows PowerShell 5 writes
  ``Get-Mailbox | Get-MailboxStatistics`` joined with ``Get-Mailbox``'s
  ``PrimarySmtpAddress``, ``RecipientTypeDetails`` and ``Department``, piped to
  ``Export-Csv``: a ``#TYPE`` first line, every field quoted, sizes as Exchange's
  text (``1.234 GB (1,325,123,456 bytes)``); users, shared and room mailboxes.
* ``pilot-moves.csv``: a pilot of 200 moves as ``Get-MoveRequest |
  Get-MoveRequestStatistics | Export-Csv`` writes them, drawn from known truths
  (:data:`PILOT_TRUTH`): each move takes max(size / GB rate, items / item rate)
  hours divided by its own lognormal speed factor (median 1, sigma ``sigma``) -
  the model ``migsim`` simulates - and fails with probability ``failure_rate``.

The functions :func:`mailbox_statistics` and :func:`pilot_moves` are also used by
the tests (calibration coverage over many generated pilots) and the benchmarks.
The same seed always writes the same files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 2026
HERE = Path(__file__).resolve().parent
EXPORT = HERE / "exchange-mailboxes.csv"
PILOT = HERE / "pilot-moves.csv"
GB = 1024**3  # Exchange's GB
TYPE_LINE = "#TYPE Selected.Microsoft.Exchange.Management.MapiTasks.Presentation.MailboxStatistics"
MOVES_TYPE_LINE = (
    "#TYPE Selected.Microsoft.Exchange.MailboxReplicationService.MoveRequestStatistics"
)
# The truths the pilot is drawn from (and the calibration should recover).
PILOT_TRUTH = {
    "gb_per_hour": 0.66,  # the programme's median per-move speed where size binds
    "items_per_hour": 9_000.0,  # where items bind
    "sigma": 0.45,  # spread of each move's own speed (lognormal)
    "failure_rate": 0.04,  # share of completion attempts that fail
}
DEPARTMENTS = [
    "St Elsewhere NHS Foundation Trust",
    "Northshire Community Health NHS Trust",
    "Riverside Mental Health NHS Trust",
    "Westbridge Ambulance Service NHS Trust",
    *(f"{p} Medical Practice" for p in ("Abbey", "Beechwood", "Cedar", "Elm", "Grange", "Mill")),
]
UNITS = ((1024**4, "TB"), (GB, "GB"), (1024**2, "MB"), (1024, "KB"))


def exchange_size(n_bytes: int) -> str:
    """``n_bytes`` as Exchange prints a size: ``1.234 GB (1,325,123,456 bytes)``."""
    for scale, unit in UNITS:
        if n_bytes >= scale:
            figure = f"{n_bytes / scale:.3f}".rstrip("0").rstrip(".")
            return f"{figure} {unit} ({n_bytes:,} bytes)"
    return f"{n_bytes} B ({n_bytes:,} bytes)"


def draw_mailboxes(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Sizes (bytes, lognormal, mean ~1.1 GB) and item counts (~12,000 items a GB)."""
    sigma = 1.1
    size_gb = np.minimum(rng.lognormal(np.log(1.1) - sigma**2 / 2, sigma, n), 50.0)
    size_bytes = np.round(size_gb * GB).astype(np.int64)
    items = np.maximum(np.round(size_gb * rng.lognormal(np.log(12_000), 0.6, n)), 1)
    deleted_bytes = np.round(size_bytes * rng.beta(1.0, 30.0, n)).astype(np.int64)
    deleted_items = np.round(items * rng.beta(1.0, 30.0, n)).astype(np.int64)
    return pd.DataFrame(
        {
            "size_bytes": size_bytes,
            "items": items.astype(np.int64),
            "deleted_bytes": deleted_bytes,
            "deleted_items": deleted_items,
        }
    )


def mailbox_statistics(rng: np.random.Generator, n: int = 20_000) -> pd.DataFrame:
    """A mailbox statistics export of ``n`` mailboxes (88% user, 8% shared, 4% room)."""
    drawn = draw_mailboxes(rng, n)
    kinds = rng.choice(["UserMailbox", "SharedMailbox", "RoomMailbox"], n, p=[0.88, 0.08, 0.04])
    names = [f"User {i:05d}" for i in range(n)]
    prefix = np.where(
        kinds == "UserMailbox", "user", np.where(kinds == "RoomMailbox", "room", "team")
    )
    addresses = [f"{p}.{i:05d}@nhs.net" for p, i in zip(prefix, range(n), strict=True)]
    room = kinds == "RoomMailbox"
    drawn.loc[room, ["size_bytes", "items", "deleted_bytes", "deleted_items"]] //= 50
    weights = np.array([40, 12, 8, 5, 3, 3, 2, 2, 2, 1], dtype=float)
    return pd.DataFrame(
        {
            "DisplayName": names,
            "PrimarySmtpAddress": addresses,
            "RecipientTypeDetails": kinds,
            "Department": rng.choice(DEPARTMENTS, n, p=weights / weights.sum()),
            "ItemCount": drawn["items"],
            "TotalItemSize": [exchange_size(int(b)) for b in drawn["size_bytes"]],
            "DeletedItemCount": drawn["deleted_items"],
            "TotalDeletedItemSize": [exchange_size(int(b)) for b in drawn["deleted_bytes"]],
        }
    )


def timespan(hours: float) -> str:
    """A .NET TimeSpan as PowerShell prints it: ``d.hh:mm:ss`` (days only when > 0)."""
    seconds = round(hours * 3600)
    days, rest = divmod(seconds, 86_400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}.{text}" if days else text


def pilot_moves(
    rng: np.random.Generator,
    n: int = 200,
    *,
    gb_per_hour: float = PILOT_TRUTH["gb_per_hour"],
    items_per_hour: float = PILOT_TRUTH["items_per_hour"],
    sigma: float = PILOT_TRUTH["sigma"],
    failure_rate: float = PILOT_TRUTH["failure_rate"],
    synced_share: float = 0.1,
    start: dt.datetime = dt.datetime(2024, 2, 5, 18, 0),
    text_sizes: bool = True,
) -> pd.DataFrame:
    """A move report of ``n`` moves drawn from known truths (see the module docstring).

    A move still waiting for its completion is ``Synced``; of the others a share
    ``failure_rate`` is ``Failed`` (at completion, after a whole initial sync) and the
    rest ``Completed``. Durations are TotalInProgressDuration, which is what a move's
    own speed determines.
    """
    drawn = draw_mailboxes(rng, n)
    size_bytes = drawn["size_bytes"].to_numpy()
    items = drawn["items"].to_numpy()
    factor = rng.lognormal(0.0, sigma, n)
    hours = np.maximum(size_bytes / GB / gb_per_hour, items / items_per_hour) / factor
    synced = rng.random(n) < synced_share
    failed = ~synced & (rng.random(n) < failure_rate)
    status = np.where(synced, "Synced", np.where(failed, "Failed", "Completed"))
    started = [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 5, n)]
    synced_at = [s + dt.timedelta(hours=float(h)) for s, h in zip(started, hours, strict=True)]
    completion = [
        s + dt.timedelta(days=int(w)) for s, w in zip(synced_at, rng.integers(1, 8, n), strict=True)
    ]

    def stamp(values, mask) -> list[str]:
        return [
            v.strftime("%Y-%m-%d %H:%M:%S") if m else "" for v, m in zip(values, mask, strict=True)
        ]

    size = [exchange_size(int(b)) for b in size_bytes] if text_sizes else size_bytes
    per_minute = size_bytes / (hours * 60.0)
    return pd.DataFrame(
        {
            "DisplayName": [f"Pilot User {i:04d}" for i in range(n)],
            "Identity": [f"pilot.{i:04d}@nhs.net" for i in range(n)],
            "Status": status,
            "StatusDetail": np.where(synced, "AutoSuspended", status),
            "BatchName": "Pilot",
            "TotalMailboxSize": size,
            "TotalMailboxItemCount": items,
            "BytesTransferred": size,
            "BytesTransferredPerMinute": [
                exchange_size(int(b)) if text_sizes else int(b) for b in per_minute
            ],
            "TotalInProgressDuration": [timespan(h) for h in hours],
            "StartTimestamp": stamp(started, np.ones(n, bool)),
            "CompletionTimestamp": stamp(completion, status == "Completed"),
            "FailureTimestamp": stamp(completion, status == "Failed"),
            "LastUpdateTimestamp": stamp(np.where(synced, synced_at, completion), np.ones(n, bool)),
        }
    )


def write_powershell_csv(frame: pd.DataFrame, path: Path, type_line: str) -> None:
    """As Windows PowerShell 5's ``Export-Csv``: a #TYPE line, a BOM, every field quoted."""
    body = frame.to_csv(index=False, quoting=1, lineterminator="\r\n")
    path.write_text(type_line + "\r\n" + body, encoding="utf-8-sig", newline="")


def write_examples(export: Path = EXPORT, pilot: Path = PILOT) -> None:
    """Write both files (the same bytes for the same SEED)."""
    export_seed, pilot_seed = np.random.SeedSequence(SEED).spawn(2)
    write_powershell_csv(mailbox_statistics(np.random.default_rng(export_seed)), export, TYPE_LINE)
    write_powershell_csv(pilot_moves(np.random.default_rng(pilot_seed)), pilot, MOVES_TYPE_LINE)


def main() -> None:
    write_examples()
    print(f"wrote {EXPORT.name} and {PILOT.name}")


if __name__ == "__main__":
    main()
