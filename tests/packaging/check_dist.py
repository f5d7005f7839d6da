"""Checks a built sdist and wheel, as the ``dist`` nox session runs it after ``python -m build``:

    python -m tests.packaging.check_dist DIST_DIR 3.10 3.11 ...

The versions are the Pythons CI tests (``noxfile.PYTHONS``). Each problem found is printed on
a line of its own and the exit status is 1; no problem, 0. What is checked: the metadata (name,
version, licence, ``Requires-Python`` and the Python classifiers matching the versions tested,
the entry points); that every file of the ``helium_secrets`` source tree is in both archives, and
nothing else of it; ``py.typed`` and ``LICENSE`` (unmodified); and no tests, caches, bytecode or
version-control files anywhere.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from email.message import Message
from email.parser import BytesParser
from pathlib import Path, PurePosixPath

__all__ = ["ROOT", "problems"]

#: The repository root: ``helium_secrets/``, ``LICENSE`` and ``pyproject.toml`` are under it.
ROOT = Path(__file__).resolve().parents[2]

PACKAGE = "helium_secrets"
NAME = "helium-secrets"
LICENSE_EXPRESSION = "Apache-2.0"

#: Path parts that have no place in a distribution.
FORBIDDEN_PARTS = frozenset(
    {"tests", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".nox", ".git", ".venv"}
)
FORBIDDEN_SUFFIXES = (".pyc", ".pyo", ".egg-info")

#: Entry points that the package's users rely on: the CLI and the pytest plugin.
ENTRY_POINTS = (
    ("console_scripts", "helium-secrets = helium_secrets.cli:main"),
    ("pytest11", "helium_secrets = helium_secrets.testing.plugin"),
)


def source_files(root: Path = ROOT) -> set[str]:
    """The package's files as the archives must hold them: ``helium_secrets/...``, no bytecode."""
    base = root / PACKAGE
    return {
        path.relative_to(root).as_posix()
        for path in base.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")
    }


def source_version(root: Path = ROOT) -> str:
    """``__version__`` as ``helium_secrets/__init__.py`` spells it."""
    text = (root / PACKAGE / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if match is None:
        raise ValueError(f"no __version__ in {root / PACKAGE / '__init__.py'}")
    return match.group(1)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _forbidden(member: str) -> bool:
    parts = PurePosixPath(member).parts
    return any(part in FORBIDDEN_PARTS for part in parts) or member.endswith(FORBIDDEN_SUFFIXES)


def _contents_problems(where: str, kind: str, members: set[str], sources: set[str]) -> list[str]:
    """What should not be in the archive, and how its package differs from the source tree."""
    packaged = {m for m in members if m.startswith(f"{PACKAGE}/")}
    return [*(f"{where}: {m} does not belong in {kind}" for m in sorted(members) if _forbidden(m)),
            *(f"{where}: {m} is missing" for m in sorted(sources - packaged)),
            *(f"{where}: {m} is not in the source tree" for m in sorted(packaged - sources))]


def _metadata_problems(where: str, meta: Message, version: str, pythons: Sequence[str]) -> list[str]:
    found: list[str] = []

    def expect(field: str, wanted: str) -> None:
        if meta.get(field) != wanted:
            found.append(f"{where}: {field} is {meta.get(field)!r}, expected {wanted!r}")

    expect("Name", NAME)
    expect("Version", version)
    expect("License-Expression", LICENSE_EXPRESSION)
    expect("License-File", "LICENSE")
    tested = sorted(set(pythons), key=_version_key)
    expect("Requires-Python", f">={tested[0]}")
    prefix = "Programming Language :: Python :: "
    classified = sorted({c.removeprefix(prefix) for c in meta.get_all("Classifier") or []
                         if re.fullmatch(r"3\.\d+", c.removeprefix(prefix))}, key=_version_key)
    if classified != tested:
        found.append(f"{where}: the classifiers list Python {', '.join(classified) or 'none'}; "
                     f"CI tests {', '.join(tested)}")
    if not meta.get("Summary"):
        found.append(f"{where}: no Summary")
    if meta.get("Description-Content-Type") != "text/markdown" or not meta.get_payload():
        found.append(f"{where}: no Markdown description (the README)")
    return found


def _wheel_problems(path: Path, sources: set[str], license_text: bytes, version: str,
                    pythons: Sequence[str]) -> list[str]:
    where = path.name
    with zipfile.ZipFile(path) as wheel:
        members = set(wheel.namelist())
        info = f"{PACKAGE}-{version}.dist-info"
        found = _contents_problems(where, "a wheel", members, sources)
        packaged = {m for m in members if m.startswith(f"{PACKAGE}/")}
        stray = sorted(m for m in members - packaged if not m.startswith(f"{info}/"))
        found += [f"{where}: {m} is outside the package and its .dist-info" for m in stray]
        if f"{info}/METADATA" not in members:
            return [*found, f"{where}: no {info}/METADATA"]
        meta = BytesParser().parsebytes(wheel.read(f"{info}/METADATA"))
        found += _metadata_problems(where, meta, version, pythons)
        license_member = f"{info}/licenses/LICENSE"
        if license_member not in members:
            found.append(f"{where}: no {license_member}")
        elif wheel.read(license_member) != license_text:
            found.append(f"{where}: {license_member} differs from LICENSE")
        entry_points = wheel.read(f"{info}/entry_points.txt").decode() if (
            f"{info}/entry_points.txt" in members) else ""
        for group, line in ENTRY_POINTS:
            if f"[{group}]" not in entry_points or line not in entry_points:
                found.append(f"{where}: entry point missing: [{group}] {line}")
    return found


def _sdist_problems(path: Path, sources: set[str], license_text: bytes, version: str,
                    pythons: Sequence[str]) -> list[str]:
    where = path.name
    top = f"{PACKAGE}-{version}/"
    with tarfile.open(path) as sdist:
        files = {m.name: m for m in sdist.getmembers() if m.isfile()}

        def read(name: str) -> bytes | None:
            member = files.get(top + name)
            handle = sdist.extractfile(member) if member is not None else None
            return handle.read() if handle is not None else None

        found = [f"{where}: {m} is not under {top}" for m in sorted(files) if not m.startswith(top)]
        relative = {m.removeprefix(top) for m in files}
        found += _contents_problems(where, "an sdist", relative, sources)
        for needed in ("pyproject.toml", "README.md"):
            if needed not in relative:
                found.append(f"{where}: no {needed}")
        if read("LICENSE") != license_text:
            found.append(f"{where}: LICENSE is missing or differs from the repository's")
        pkg_info = read("PKG-INFO")
        if pkg_info is None:
            return [*found, f"{where}: no PKG-INFO"]
        found += _metadata_problems(where, BytesParser().parsebytes(pkg_info), version, pythons)
    return found


def problems(dist: Path, pythons: Sequence[str], root: Path = ROOT) -> list[str]:
    """Everything wrong with the one wheel and the one sdist in ``dist``; empty when both are right.

    :param dist: the directory ``python -m build --outdir`` wrote to.
    :param pythons: the Python versions CI tests (``"3.11"``...): the classifiers must list
        exactly these, and ``Requires-Python`` must start at the lowest.
    :param root: the repository the archives were built from.
    """
    if not pythons:
        raise ValueError("pythons: name at least one Python version that CI tests")
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"{dist}: expected one wheel and one sdist, found {len(wheels)} and {len(sdists)}"]
    sources = source_files(root)
    if f"{PACKAGE}/py.typed" not in sources:
        return [f"{root / PACKAGE}: no py.typed in the source tree"]
    license_text = (root / "LICENSE").read_bytes()
    version = source_version(root)
    return [*_wheel_problems(wheels[0], sources, license_text, version, pythons),
            *_sdist_problems(sdists[0], sources, license_text, version, pythons)]


def main(argv: Sequence[str]) -> int:
    """``check_dist DIST_DIR PYTHON...``: print each problem; 1 if there is any."""
    if len(argv) < 2:
        print("usage: python -m tests.packaging.check_dist DIST_DIR PYTHON_VERSION...", file=sys.stderr)
        return 2
    found = problems(Path(argv[0]), argv[1:])
    for problem in found:
        print(problem, file=sys.stderr)
    if not found:
        print(f"{argv[0]}: the wheel and the sdist are complete and clean")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
