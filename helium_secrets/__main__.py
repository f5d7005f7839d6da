"""``python -m helium_secrets``: the command-line interface."""

from helium_secrets.cli import main

raise SystemExit(main())
