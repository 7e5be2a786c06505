"""migsim: when will a very large mailbox migration finish, how sure are we, and
what will it cost the service desk?

>>> import sim
>>> sc = sim.load("scenarios/nhsmail-2020.toml", overrides={"batches.weekday": 30000})
>>> res = sim.run(sc, replications=20, seed=1, workers=2)
>>> res.summary["completion"]          # P10 / P50 / P90 completion dates
>>> res.daily, res.runs, res.mailboxes  # pandas DataFrames
>>> sim.plan(sc)                        # the batch plan: who moves on which evening
>>> sim.solve(sc, "batches.weekday", low=5000, high=60000).value  # the smallest batch that does
>>> sim.sensitivity(sc, params=["support.ticket_rate", "throttle.scale"]).plot()   # a tornado
>>> cmp = sim.compare({"plan": sc, "35k": sim.load(path, overrides={"batches.weekday": 35000})})
>>> cmp.summary["alternatives"][0]["days_earlier"]   # paired, on the same dice
>>> res.save("results/"); sim.read_result("results/")
>>> sim.calibrate(sc, moves="scenarios/pilot-moves.csv").table   # a pilot's speeds and failures
"""

from sim.app import app
from sim.experiments.batch_plan import plan
from sim.experiments.calibrate import Calibration, calibrate
from sim.experiments.compare import Comparison, compare
from sim.experiments.forecast import forecast
from sim.experiments.results import Result, ResultFolderError, read_result
from sim.experiments.runner import ClusterError, run
from sim.experiments.sensitivity import sensitivity
from sim.experiments.solve import solve
from sim.experiments.sweep import sweep
from sim.model.feasibility import MemoryLimitError
from sim.model.scenario import Scenario, ScenarioError, load, loads
from sim.model.simulation import Model, simulate
from sim.model.uncertainty import nominal
from sim.outputs.files import OutputError

__all__ = [
    "Calibration",
    "ClusterError",
    "Comparison",
    "MemoryLimitError",
    "Model",
    "OutputError",
    "Result",
    "ResultFolderError",
    "Scenario",
    "ScenarioError",
    "app",
    "calibrate",
    "compare",
    "forecast",
    "load",
    "loads",
    "nominal",
    "plan",
    "read_result",
    "run",
    "sensitivity",
    "simulate",
    "solve",
    "sweep",
]
