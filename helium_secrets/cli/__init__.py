"""The ``helium-secrets`` command line: one module per command family (see docs/cli.md)."""

from helium_secrets.cli._main import ExitCode, exit_code_for, main

__all__ = ["ExitCode", "exit_code_for", "main"]
