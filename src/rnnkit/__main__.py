"""``python -m rnnkit``: the command line."""

from rnnkit.cli import main

raise SystemExit(main())
