"""Sessions that mirror CI: ``nox`` runs tests, lint, typing, docs, dist and the benchmarks' smoke
run (see README.md and CONTRIBUTING.md)."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs", "dist", "bench_smoke"]
# A Python of PYTHONS that is missing fails the run where CI is set (nox's default) and is skipped
# elsewhere, so that a contributor without one still runs the rest.
# uv makes an environment in seconds where pip takes about a minute; virtualenv without uv.
nox.options.default_venv_backend = "uv|virtualenv"

#: Every CPython this machine's package sources offer at or above the floor (CONTRIBUTING.md):
#: the tests run on each, and pyproject.toml's classifiers list exactly these (the dist session
#: checks it).
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
#: The Python that runs the whole suite. The others leave out the Vault and AWS backend suites
#: of both twins, which spend minutes waiting on their servers (and start the slow persistent
#: TLS servers) rather than running Python; the integration tests still use both servers on
#: every Python.
FULL_SUITE_PYTHON = "3.11"
SERVER_SUITES = [f"--ignore=tests/backends/{suite}" for suite in (
    "test_vault.py", "test_vault_async.py", "test_aws.py", "test_aws_async.py")]

BACKEND_TESTS = {
    "memory": "tests/backends/test_memory.py",
    "file": "tests/backends/test_localfile.py",
    "env": "tests/backends/test_environ.py",
    "vault": "tests/backends/test_vault.py",
    "vault-async": "tests/backends/test_vault_async.py",
    "aws": "tests/backends/test_aws.py",
    "azure": "tests/backends/test_azure.py",
    "azure-async": "tests/backends/test_azure_async.py",
    "gcp": "tests/backends/test_gcp.py",
    "awsssm": "tests/backends/test_awsssm.py",
    "dotenv": "tests/backends/test_dotenv.py",
    "layered": "tests/backends/test_layered.py",
}


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite: core, layers, CLI and every backend against its server, once per Python
    (``nox -s tests-3.12``; see FULL_SUITE_PYTHON). The docs session runs tests/docsite."""
    session.install("-e", ".[all,test]")
    default = ["tests", "--ignore=tests/docsite"]
    if session.python != FULL_SUITE_PYTHON:
        default += SERVER_SUITES
    session.run("pytest", *(session.posargs or default))


@nox.session(name="backend")
@nox.parametrize("backend", list(BACKEND_TESTS))
def backend_tests(session: nox.Session, backend: str) -> None:
    """One backend's tests (``nox -s "backend(backend='vault')"``)."""
    session.install("-e", ".[all,test]")
    session.run("pytest", BACKEND_TESTS[backend], *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package, tests, benchmarks, docs' griffe extension and this file; the layering
    (import-linter)."""
    session.install("ruff>=0.6", "import-linter>=2.0", "-e", ".")
    session.run("ruff", "check", "helium_secrets", "tests", "benchmarks", "docs", "scripts",
                "noxfile.py")
    session.run("lint-imports")
    session.run("python", "scripts/unasync.py", "--check")  # the sync store is generated


#: The mutation tool: the mutation session runs it, and the typing session checks the tests'
#: plugin for it (tests/mutmut_plugin.py) against it.
MUTMUT = "mutmut>=3.8,<4"


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over the package and the tests."""
    session.install("-e", ".[all,test]", "mypy>=1.10", MUTMUT)
    session.run("mypy")


#: What builds the site: mkdocs, the API reference from the docstrings, Pygments' highlighting.
DOCS = ["mkdocs>=1.6", "mkdocstrings[python]>=0.30", "pymdown-extensions>=10"]


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors, then open every page in headless Chromium
    (tests/docsite: broken pages, links, anchors and console errors)."""
    session.install(*DOCS, "playwright>=1.45", "pytest>=8", "pytest-timeout>=2.2")
    site = session.create_tmp() + "/site"
    session.run("mkdocs", "build", "--strict", "--site-dir", site)
    session.run("pytest", "tests/docsite", *session.posargs, env={"HELIUM_SECRETS_SITE": site})


@nox.session
def dist(session: nox.Session) -> None:
    """Build the sdist and the wheel (the wheel from the sdist) and check them: metadata (twine),
    every module, py.typed and LICENSE in, no tests, caches or bytecode (tests/packaging)."""
    session.install("build[uv]>=1.2", "twine>=6.1")
    out = session.create_tmp() + "/dist"
    shutil.rmtree(out, ignore_errors=True)
    session.run("python", "-m", "build", "--installer=uv", "--outdir", out)
    session.run("twine", "check", "--strict", *glob.glob(out + "/*"))
    session.run("python", "-m", "tests.packaging.check_dist", out, *PYTHONS)


#: Every benchmark script (``bench_*.py``: a new one is in ``bench`` and ``bench_smoke`` without
#: a line here), and the fleet simulation with its check against a real fleet.
BENCHMARKS = [*sorted(str(path) for path in Path("benchmarks").glob("bench_*.py")),
              "benchmarks/fleet.py", "benchmarks/fleet_check.py"]


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
    session.install("-e", ".[all,test]", MUTMUT)
    session.run("mutmut", "run", "--max-children", str(os.cpu_count() or 2), *session.posargs)
    session.run("mutmut", "export-cicd-stats")
    session.run("python", "-c", _MUTATION_REPORT)
