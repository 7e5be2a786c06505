"""What the reference's uncertainty costs per replication.

    python benchmarks/bench_uncertainty.py [--runs 5] [--scenario scenarios/nhsmail-2020.toml]

Times one replication (summary only, as the runner's workers do) of the
scenario as written (distributions, variation, risks), of its certain twin
(every distribution at its median, no variation, no risks), and of the twin
fixed at the values this replication drew ("drawn"), rotating the order so
that a noisy, shared machine slows all alike. Target (issue 9): the uncertain
one costs at most 10% more than the twin. A drawn world with more tickets or
failures has more to simulate; "drawn" vs "certain" shows that part, and the
time of drawing a world alone (``Uncertainty.draw``) is the machinery's own.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import sim
from sim.model.distributions import key_parts
from sim.model.scenario import with_overrides


def certain_twin(scenario: sim.Scenario) -> sim.Scenario:
    """The same plan with every uncertain number at its median, no variation, no risks."""
    medians = scenario.model_dump(by_alias=True, mode="python")  # fields hold the medians
    overrides = {key: _at(medians, key) for key in scenario.uncertain}
    overrides |= {"throttle.daily_variation": 0.0, "throttle.per_move_sigma": 0.0, "risks": []}
    return with_overrides(scenario, overrides, source="twin")


def _at(data: dict, key: str):
    for part in key_parts(key):
        data = data[part]
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/nhsmail-2020.toml")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    uncertain = sim.load(args.scenario)
    certain = certain_twin(uncertain)
    models = {"uncertain": sim.Model(uncertain), "certain": sim.Model(certain)}
    seeds = np.random.SeedSequence(uncertain.scenario.seed).spawn(args.runs)
    warm_up = np.random.SeedSequence(uncertain.scenario.seed + 1)
    for model in models.values():  # first-call costs (imports, caches) are not per replication
        model.replicate(warm_up)
    names = ["uncertain", "certain", "drawn"]
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for i, seed in enumerate(seeds):
        params = models["uncertain"].uncertainty.draw(seed).params
        models["drawn"] = sim.Model(with_overrides(certain, params, source="drawn"))
        for name in names[i % 3 :] + names[: i % 3]:
            started = time.process_time()
            rep = models[name].replicate(seed, replication=i)
            cpu[name].append(time.process_time() - started)
            done = rep.metrics["completion_date"].date()
            print(f"run {i} {name:>9}: {cpu[name][-1]:.3f} s CPU, done {done}")
    started = time.process_time()
    for seed in seeds:
        models["uncertain"].uncertainty.draw(seed)
    draw_seconds = (time.process_time() - started) / len(seeds)
    for label, stat in (("median", statistics.median), ("fastest", min)):
        value = {name: stat(times) for name, times in cpu.items()}
        print(
            f"{label} CPU per replication: certain {value['certain']:.3f} s, "
            f"drawn {value['drawn']:.3f} s, uncertain {value['uncertain']:.3f} s "
            f"({100 * (value['uncertain'] / value['certain'] - 1):+.1f}% on certain, "
            f"{100 * (value['uncertain'] / value['drawn'] - 1):+.1f}% on drawn)"
        )
    print(f"drawing a world: {draw_seconds:.3f} s CPU")


if __name__ == "__main__":
    main()
