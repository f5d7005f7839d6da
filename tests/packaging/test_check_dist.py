"""The dist checker finds each defect a built wheel or sdist can have, on small archives made here
(the ``dist`` nox session runs it on the real ones)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.packaging.check_dist import main, problems

VERSION = "1.2.3"
PYTHONS = ("3.10", "3.11")
LICENSE = b"The licence, as the repository has it.\n"
INFO = f"helium_secrets-{VERSION}.dist-info"
TOP = f"helium_secrets-{VERSION}/"
ENTRY_POINTS = (b"[console_scripts]\nhelium-secrets = helium_secrets.cli:main\n\n"
                b"[pytest11]\nhelium_secrets = helium_secrets.testing.plugin\n")
PACKAGE = {
    "helium_secrets/__init__.py": f'"""The package."""\n\n__version__ = "{VERSION}"\n'.encode(),
    "helium_secrets/py.typed": b"",
    "helium_secrets/backends/memory.py": b"x = 1\n",
}


def metadata(classifiers: tuple[str, ...] = PYTHONS, requires: str = ">=3.10") -> bytes:
    lines = ["Metadata-Version: 2.4", "Name: helium-secrets", f"Version: {VERSION}",
             "Summary: Secrets through one interface.", "License-Expression: Apache-2.0",
             "License-File: LICENSE",
             *(f"Classifier: Programming Language :: Python :: {v}" for v in ("3", *classifiers)),
             f"Requires-Python: {requires}", "Description-Content-Type: text/markdown", "",
             "# helium-secrets", ""]
    return "\n".join(lines).encode()


def wheel_members() -> dict[str, bytes]:
    return {**PACKAGE, f"{INFO}/METADATA": metadata(), f"{INFO}/licenses/LICENSE": LICENSE,
            f"{INFO}/entry_points.txt": ENTRY_POINTS, f"{INFO}/WHEEL": b"Wheel-Version: 1.0\n"}


def sdist_members() -> dict[str, bytes]:
    return {**{TOP + name: data for name, data in PACKAGE.items()}, f"{TOP}PKG-INFO": metadata(),
            f"{TOP}LICENSE": LICENSE, f"{TOP}pyproject.toml": b"[project]\n", f"{TOP}README.md": b"#\n"}


Edit = Callable[[dict[str, bytes]], object]


def build(tmp_path: Path, wheel_edit: Edit | None = None, sdist_edit: Edit | None = None) -> Path:
    """A repository with the package's sources, and a dist/ with one wheel and one sdist of it,
    each changed by its edit first."""
    for name, data in PACKAGE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "LICENSE").write_bytes(LICENSE)
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel, sdist = wheel_members(), sdist_members()
    for members, edit in ((wheel, wheel_edit), (sdist, sdist_edit)):
        if edit is not None:
            edit(members)
    with zipfile.ZipFile(dist / f"helium_secrets-{VERSION}-py3-none-any.whl", "w") as archive:
        for name, data in wheel.items():
            archive.writestr(name, data)
    with tarfile.open(dist / f"helium_secrets-{VERSION}.tar.gz", "w:gz") as archive:
        for name, data in sdist.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return dist


def test_a_complete_clean_pair_has_no_problem(tmp_path: Path) -> None:
    assert problems(build(tmp_path), PYTHONS, root=tmp_path) == []


WHEEL_DEFECTS: dict[str, tuple[Edit, str]] = {
    "bytecode": (lambda m: m.update({"helium_secrets/__pycache__/cli.cpython-311.pyc": b"\0"}),
                 "helium_secrets/__pycache__/cli.cpython-311.pyc does not belong in a wheel"),
    "tests": (lambda m: m.update({"tests/test_store.py": b""}), "tests/test_store.py does not belong"),
    "module missing": (lambda m: m.pop("helium_secrets/backends/memory.py"),
                       "helium_secrets/backends/memory.py is missing"),
    "py.typed missing": (lambda m: m.pop("helium_secrets/py.typed"), "helium_secrets/py.typed is missing"),
    "stray module": (lambda m: m.update({"helium_secrets/old.py": b""}),
                     "helium_secrets/old.py is not in the source tree"),
    "license missing": (lambda m: m.pop(f"{INFO}/licenses/LICENSE"), f"no {INFO}/licenses/LICENSE"),
    "license changed": (lambda m: m.update({f"{INFO}/licenses/LICENSE": b"MIT\n"}), "differs from LICENSE"),
    "classifiers": (lambda m: m.update({f"{INFO}/METADATA": metadata(classifiers=("3.10", "3.11", "3.12"))}),
                    "the classifiers list Python 3.10, 3.11, 3.12; CI tests 3.10, 3.11"),
    "requires-python": (lambda m: m.update({f"{INFO}/METADATA": metadata(requires=">=3.9")}),
                        "Requires-Python is '>=3.9', expected '>=3.10'"),
    "entry point": (lambda m: m.pop(f"{INFO}/entry_points.txt"), "entry point missing: [console_scripts]"),
}


@pytest.mark.parametrize("defect", list(WHEEL_DEFECTS))
def test_each_wheel_defect_is_named(tmp_path: Path, defect: str) -> None:
    edit, expected = WHEEL_DEFECTS[defect]
    found = problems(build(tmp_path, wheel_edit=edit), PYTHONS, root=tmp_path)
    assert any(p.startswith(f"helium_secrets-{VERSION}-py3-none-any.whl: ") and expected in p
               for p in found), found


SDIST_DEFECTS: dict[str, tuple[Edit, str]] = {
    "tests": (lambda m: m.update({f"{TOP}tests/conftest.py": b""}), "tests/conftest.py does not belong"),
    "cache": (lambda m: m.update({f"{TOP}.mypy_cache/3.11/x.json": b"{}"}), ".mypy_cache/3.11/x.json"),
    "module missing": (lambda m: m.pop(f"{TOP}helium_secrets/__init__.py"),
                       "helium_secrets/__init__.py is missing"),
    "license missing": (lambda m: m.pop(f"{TOP}LICENSE"), "LICENSE is missing or differs"),
    "metadata missing": (lambda m: m.pop(f"{TOP}PKG-INFO"), "no PKG-INFO"),
    "outside its folder": (lambda m: m.update({"setup.py": b""}), f"setup.py is not under {TOP}"),
}


@pytest.mark.parametrize("defect", list(SDIST_DEFECTS))
def test_each_sdist_defect_is_named(tmp_path: Path, defect: str) -> None:
    edit, expected = SDIST_DEFECTS[defect]
    found = problems(build(tmp_path, sdist_edit=edit), PYTHONS, root=tmp_path)
    assert any(p.startswith(f"helium_secrets-{VERSION}.tar.gz: ") and expected in p for p in found), found


def test_a_missing_archive_is_one_problem(tmp_path: Path) -> None:
    dist = build(tmp_path)
    next(dist.glob("*.whl")).unlink()
    assert problems(dist, PYTHONS, root=tmp_path) == [
        f"{dist}: expected one wheel and one sdist, found 0 and 1"]


def test_main_exits_1_and_prints_each_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), *PYTHONS]) == 1  # nothing built here
    assert capsys.readouterr().err == f"{tmp_path}: expected one wheel and one sdist, found 0 and 0\n"


def test_main_wants_the_versions_tested(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dist"]) == 2
    assert "usage:" in capsys.readouterr().err
