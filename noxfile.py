"""Sessions that mirror CI: ``nox`` runs tests, lint, typing and docs (see README.md)."""

from __future__ import annotations

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
    "awsssm": "tests/backends/test_awsssm.py",
    "dotenv": "tests/backends/test_dotenv.py",
    "layered": "tests/backends/test_layered.py",
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


BENCHMARKS = ("benchmarks/bench_core.py", "benchmarks/bench_aws.py")


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
