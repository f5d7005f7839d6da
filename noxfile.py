"""Sessions that mirror CI: ``nox`` runs tests, lint, typing and docs (see README.md)."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs", "bench_smoke"]
nox.options.error_on_missing_interpreters = True

BACKEND_TESTS = {
    "memory": "tests/backends/test_memory.py",
    "file": "tests/backends/test_localfile.py",
    "env": "tests/backends/test_environ.py",
    "vault": "tests/backends/test_vault.py",
    "aws": "tests/backends/test_aws.py",
    "azure": "tests/backends/test_azure.py",
    "gcp": "tests/backends/test_gcp.py",
}


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite: core, layers, CLI and every backend against its server."""
    session.install("-e", ".[all,test]")
    session.run("pytest", *(session.posargs or ["tests"]))


@nox.session(name="backend")
@nox.parametrize("backend", list(BACKEND_TESTS))
def backend_tests(session: nox.Session, backend: str) -> None:
    """One backend's tests (``nox -s "backend(backend='vault')"``)."""
    session.install("-e", ".[all,test]")
    session.run("pytest", BACKEND_TESTS[backend], *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package, tests, benchmarks and this file; the layering (import-linter)."""
    session.install("ruff>=0.6", "import-linter>=2.0", "-e", ".")
    session.run("ruff", "check", "helium_secrets", "tests", "benchmarks", "noxfile.py")
    session.run("lint-imports")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over the package and the tests."""
    session.install("-e", ".[all,test]", "mypy>=1.10")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors."""
    session.install("mkdocs>=1.6")
    session.run("mkdocs", "build", "--strict", "--site-dir", session.create_tmp() + "/site")


#: Every benchmark script: a new one is in ``bench`` and ``bench_smoke`` without a line here.
BENCHMARKS = sorted(str(path) for path in Path("benchmarks").glob("bench_*.py"))


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks: figures printed, never asserted."""
    session.install("-e", ".[all,bench]")
    for script in BENCHMARKS:
        session.run("python", script, *session.posargs)


@nox.session(name="bench_smoke")
def bench_smoke(session: nox.Session) -> None:
    """Every benchmark in its quick mode, as CI runs them, so that none rots."""
    session.install("-e", ".[all,bench]")
    for script in BENCHMARKS:
        session.run("python", script, "--quick")


#: The mutation report: the kill rate over the mutants tested, then every survivor.
_MUTATION_REPORT = """
import json, pathlib, subprocess, sys
stats = json.loads(pathlib.Path("mutants/mutmut-cicd-stats.json").read_text())
tested = stats["total"] - stats["skipped"]
killed = stats["killed"] + stats["timeout"]
print(f"kill rate: {killed}/{tested} = {100 * killed / max(tested, 1):.1f}% "
      f"({stats['survived']} survived, {stats['no_tests']} not covered by the core suite)")
subprocess.run([sys.executable, "-m", "mutmut", "results"], check=True)
"""


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation testing of the core modules against the core suite (not in the default run).

    The modules and tests are ``[tool.mutmut]`` in pyproject.toml; posargs are mutant-name
    globs (``nox -s mutation -- "helium_secrets._values*"``). Prints the kill rate and the
    surviving mutants; ``mutmut show NAME`` shows one (CONTRIBUTING.md, "Mutation testing").
    """
    session.install("-e", ".[all,test]", "mutmut>=3.8,<4")
    session.run("mutmut", "run", "--max-children", str(os.cpu_count() or 2), *session.posargs)
    session.run("mutmut", "export-cicd-stats")
    session.run("python", "-c", _MUTATION_REPORT)
