"""What is done with the simulation: replications over workers (``runner``),
the per-replication metrics and their summary (``metrics``, ``results``),
parameter sweeps (``axes``, ``sweep``) and the deadline gate for CI
(``check``).
"""
