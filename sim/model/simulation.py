"""A scenario ready to simulate, one replication at a time: compile, draw, run, collect.

::

    model = Model(sim.load("scenarios/nhsmail-2020.toml"))    # compiled once
    rep = model.replicate(np.random.SeedSequence(1))          # one replication
    rep.metrics["completion_date"], rep.daily                 # its runs row, its days

The model's modules read in one direction, bottom to top:

1. ``sim.model.record`` and ``sim.model.tables``: what a finished replication
   leaves behind, and the tables made from it;
2. ``sim.model.replication``: the plain model, one replication of the scenario as
   given in a given world (the SimPy story);
3. ``sim.model.uncertainty``: each replication's world and concrete scenario
   drawn (uncertain inputs, variation in time, risks), then run plainly;
4. this module: the two put together, as ``sim.Model`` and ``sim.simulate``.
"""

from __future__ import annotations

import numpy as np

from sim.model.replication import PlainModel, Replication
from sim.model.scenario import Scenario
from sim.model.uncertainty import Uncertainty, has_uncertainty
from sim.model.world import World


def _compiled(name: str) -> property:
    """One of the plain model's compiled attributes, read through (the plan as written)."""
    return property(lambda self: getattr(self.plain, name), doc=f"``PlainModel.{name}``.")


class Model:
    """A scenario compiled for simulation: its plain model and, when anything in it is
    uncertain, how each replication draws its world.

    Built once and shared by every replication (and built once in each worker). The
    compiled plan (``calendar``, ``lanes``, ``capacity``...) is the scenario's as
    written; a replication with uncertainty runs its own concrete plan.
    """

    scenario = _compiled("scenario")
    calendar = _compiled("calendar")
    capacity = _compiled("capacity")
    lanes = _compiled("lanes")
    cutover_hours = _compiled("cutover_hours")
    desk_open = _compiled("desk_open")
    deadline_index = _compiled("deadline_index")

    def __init__(self, scenario: Scenario) -> None:
        self.plain = PlainModel(scenario)
        self.uncertainty = Uncertainty(self.plain) if has_uncertainty(scenario) else None

    def replicate(
        self,
        seed: np.random.SeedSequence,
        *,
        keep_mailboxes: bool = False,
        replication: int = 0,
        world: World | None = None,
    ) -> Replication:
        """Run one replication from its own seed sequence, in ``world`` (default: nominal)
        and, with uncertainty, in the world and concrete scenario it draws."""
        if self.uncertainty is None:
            return self.plain.replicate(
                seed, keep_mailboxes=keep_mailboxes, replication=replication, world=world
            )
        return self.uncertainty.replicate(
            seed, keep_mailboxes=keep_mailboxes, replication=replication, world=world
        )


def simulate(
    scenario: Scenario,
    seed: np.random.SeedSequence | int,
    *,
    keep_mailboxes: bool = True,
    replication: int = 0,
    world: World | None = None,
) -> Replication:
    """Build the model and run one replication (convenience for tests and notebooks)."""
    if not isinstance(seed, np.random.SeedSequence):
        seed = np.random.SeedSequence(seed)
    return Model(scenario).replicate(
        seed, keep_mailboxes=keep_mailboxes, replication=replication, world=world
    )


__all__ = ["Model", "simulate"]
