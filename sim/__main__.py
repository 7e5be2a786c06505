"""``python -m sim``: the same as the ``migsim`` command."""

from sim.cli import main

main()
