"""docs/performance.md: the page is in the site, its plot exists, and what it says about how the
figures are made matches the scripts (their defaults, and the one command that runs them)."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.fleet import DEFAULT_PLOT, Config
from tests.docs.pages import ROOT

PAGE = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")


def test_the_page_is_in_the_nav_and_shows_the_fleet_plot() -> None:
    assert "performance.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    image = re.search(r"!\[[^\]]*\]\(([^)]+\.png)\)", PAGE)
    assert image is not None
    assert (ROOT / "docs" / image.group(1)) == DEFAULT_PLOT
    assert DEFAULT_PLOT.stat().st_size > 10_000  # written by a full run, not the quick one


def test_the_fleet_it_describes_is_the_scripts_default() -> None:
    config = Config()
    described = (f"**{config.instances:,} instances x {config.secrets} secrets, TTL "
                 f"{config.ttl:.0f} s**")
    assert described in PAGE
    assert f"every {config.read_every:.0f} s on average" in PAGE
    assert f"polled every {config.poll_interval:.0f} s" in PAGE
    assert f"over {config.horizon:,.0f} s" in PAGE
    assert f"from {config.fault_at:.0f} s" in PAGE
    assert f"`Retry-After: {config.retry_after:.0f}` for {config.fault_for:.0f} s" in PAGE
    assert f"{config.expected_rate:.1f}\n  reads/s" in PAGE or \
        f"{config.expected_rate:.1f} reads/s" in PAGE


def test_every_script_it_names_is_run_by_nox_bench() -> None:
    # Read, not imported: the test environment has no nox. BENCHMARKS is every
    # benchmarks/bench_*.py plus the scripts the noxfile names.
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert 'Path("benchmarks").glob("bench_*.py")' in noxfile
    for script in set(re.findall(r"benchmarks/\w+\.py", PAGE)):
        assert (ROOT / script).is_file(), script
        assert Path(script).name.startswith("bench_") or f'"{script}"' in noxfile, script
    assert "nox -s bench" in PAGE
