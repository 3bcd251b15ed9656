"""``python -m headwater``: the ``headwater`` console command."""

from headwater.cli.console import main

main()
