"""What is done with the simulation: replications over workers and their
summary (``runner``, ``results``), parameter sweeps (``sweep``) and the
deadline gate for CI (``check``).
"""
