"""What varies between replications beyond the mailbox-level dice.

A scenario says "the throttle gives 1,800 GB/h at night"; a replication may live
in a world where a service incident halves it for three days, a national
emergency halts cutovers for a fortnight, or this tenant's moves run 20% slow.
Uncertainty (risks, daily variation) and forecasting fill a :class:`World`;
``Model.replicate(seed, world=...)`` runs in it. ``None`` everywhere (the
default) is the world the scenario describes, with identical results.

Day arrays are indexed by the model's calendar day (``Calendar.days`` long);
``move_speed_factor`` by mailbox id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class World:
    """What varies between replications beyond the mailbox-level dice."""

    throttle_factor_by_day: np.ndarray | None = None  # per calendar day, x window rate x scale
    paused_by_day: np.ndarray | None = None  # per calendar day: no cutovers, all due slip
    failure_factor_by_day: np.ndarray | None = None  # float per calendar day, x failures.rate
    move_speed_factor: np.ndarray | None = None  # float per mailbox id, x per_move_gb_per_hour
    initial_ticket_backlog: int = 0  # open tickets at the start (forecast)

    def check(self, days: int, mailboxes: int) -> None:
        """Raise ``ValueError`` if an array does not fit the calendar or the population."""
        for name, length in (
            ("throttle_factor_by_day", days),
            ("paused_by_day", days),
            ("failure_factor_by_day", days),
            ("move_speed_factor", mailboxes),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if np.shape(value) != (length,):
                raise ValueError(f"World.{name} must have {length} entries (got {np.shape(value)})")
            if name != "paused_by_day" and not np.all(np.asarray(value) >= 0):
                raise ValueError(f"World.{name} must be >= 0")
        speed = self.move_speed_factor
        if speed is not None and not np.all(np.asarray(speed) > 0):
            raise ValueError("World.move_speed_factor must be > 0")
        if self.initial_ticket_backlog < 0:
            raise ValueError("World.initial_ticket_backlog must be >= 0")


NOMINAL = World()
