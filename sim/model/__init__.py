"""What is simulated: the scenario, the calendar, the mailboxes and their plan,
the throttle, the service desk, and one replication's story that ties them
together (``sim.model.replication``).

Nothing here knows about files other than the scenario itself, the command
line, workers or plots.
"""
