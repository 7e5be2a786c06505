"""What is simulated: the scenario, the calendar, the mailboxes and their plan,
the throttle, the service desk, and one replication's story that ties them
together (``sim.model.replication``), leaving a record its tables are made from
(``sim.model.record``, ``sim.model.tables``). Above it each replication's world is
drawn (``sim.model.uncertainty``), and ``sim.model.simulation`` holds ``sim.Model``.

Nothing here knows about files other than the scenario itself, the command
line, workers or plots.
"""
