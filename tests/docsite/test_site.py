"""The documentation site as a reader gets it: built by mkdocs, served on loopback, every page
opened in headless Chromium (Debian's ``chromium``, driven by Playwright over the DevTools
protocol). A page that does not load, a link or an anchor that leads nowhere, a request that
fails and anything on the console at error level fail the test.

The docs session (``nox -s docs``) builds the site once and passes it in ``HELIUM_SECRETS_SITE``;
run alone, the test builds it. Without Chromium (or Playwright, or mkdocs) it skips, saying so,
except in CI (``CI`` set), where it fails instead: CI must have looked at the site.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from tests.docs.pages import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

#: What the machine's Chromium needs to start as root, in a closed network, with nothing from
#: outside (Playwright adds --headless and a fresh --user-data-dir: the context's directory).
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SITE_ENV = "HELIUM_SECRETS_SITE"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason}; CI must open the documentation in a browser", pytrace=False)
    pytest.skip(reason)


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _unavailable("no Chromium on PATH (Debian: apt-get install chromium)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (nox -s docs installs it)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=executable,
            headless=True, args=CHROMIUM_FLAGS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site: ``$HELIUM_SECRETS_SITE``, or built here from mkdocs.yml (strict)."""
    given = os.environ.get(SITE_ENV)
    if given:
        path = Path(given)
        assert (path / "index.html").is_file(), f"{SITE_ENV}={given} holds no built site"
        return path
    if importlib.util.find_spec("mkdocs") is None:
        _unavailable("mkdocs is not installed (nox -s docs installs it)")
    path = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                    "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(path)],
                   check=True, cwd=ROOT)
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """An HTTP server for ``directory`` on a free loopback port, running, and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, name="docs-site", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _pages(site: Path) -> list[str]:
    """Every page of the site, as paths relative to its root (404.html is for missing pages)."""
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if p.name != "404.html")


def _target(site: Path, path: str) -> Path:
    """The file a same-site URL path is served from."""
    file = site / unquote(path).lstrip("/")
    return file / "index.html" if path.endswith("/") or file.is_dir() else file


def problems(site: Path, browser: BrowserContext) -> list[str]:
    """What is wrong with the site in a browser, one line each; empty when nothing is."""
    server, base = serve(site)
    found: list[str] = []
    ids: dict[Path, set[str]] = {}
    links: list[tuple[str, str]] = []  # (page, absolute URL)
    page = browser.new_page()
    current = [""]
    page.on("console", lambda m: found.append(f"{current[0]}: console {m.type}: {m.text}")
            if m.type in ("error", "assert") else None)
    page.on("pageerror", lambda e: found.append(f"{current[0]}: uncaught {e}"))
    page.on("requestfailed", lambda r: found.append(f"{current[0]}: {r.url} failed: {r.failure}"))
    page.on("response", lambda r: found.append(f"{current[0]}: {r.url} answered {r.status}")
            if r.status >= 400 else None)
    try:
        for name in _pages(site):
            current[0] = name
            response = page.goto(base + name, wait_until="load")
            page.wait_for_load_state("networkidle")
            if response is None or response.status != 200:
                found.append(f"{name}: did not load ({response.status if response else 'no answer'})")
                continue
            if not page.locator("h1").count():
                found.append(f"{name}: no heading: an empty or broken page")
            ids[_target(site, "/" + name)] = set(page.eval_on_selector_all(
                "[id], a[name]", "els => els.map(e => e.id || e.getAttribute('name'))"))
            links += [(name, href) for href in page.eval_on_selector_all(
                "a[href]", "els => els.map(e => e.href)")]
    finally:
        page.close()
        server.shutdown()
        server.server_close()
    for name, href in links:
        url, fragment = urldefrag(href)
        if not url.startswith(base):
            continue  # another site: never fetched (there is no network), so not judged
        target = _target(site, urlsplit(url).path)
        if not target.is_file():
            found.append(f"{name}: broken link to {href}")
        elif fragment and target.suffix == ".html" and unquote(fragment) not in ids.get(target, set()):
            found.append(f"{name}: no anchor #{fragment} in {target.relative_to(site).as_posix()}")
    return found


def test_every_page_opens_with_no_error_and_every_link_leads_somewhere(
        browser: BrowserContext, site: Path) -> None:
    docs = ROOT / "docs"
    expected = {(md.parent if md.stem == "index" else md.with_suffix("")).relative_to(docs) / "index.html"
                for md in docs.rglob("*.md")}
    missing = sorted(p.as_posix() for p in expected - {Path(name) for name in _pages(site)})
    assert not missing, f"pages not built: {missing}"
    found = problems(site, browser)
    assert not found, "\n".join(found)


BROKEN_SITE = {
    "index.html": '<h1>Home</h1><a href="guide/">guide</a> <a href="missing/">missing</a>'
                  ' <a href="guide/#usage">usage</a> <a href="guide/#nowhere">nowhere</a>'
                  ' <a href="https://example.invalid/">elsewhere</a>',
    "guide/index.html": '<h1 id="usage">Guide</h1><img src="../logo.png" alt="">',
    "empty/index.html": "<p>nothing here</p>",
    "noisy/index.html": '<h1>Noisy</h1><script>console.error("boom"); missingFunction();</script>',
}


def test_each_kind_of_breakage_is_reported(tmp_path: Path, browser: BrowserContext) -> None:
    for name, html in BROKEN_SITE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        page = f'<!doctype html><title>t</title><link rel="icon" href="data:,">{html}'
        (tmp_path / name).write_text(page, encoding="utf-8")
    found = problems(tmp_path, browser)
    expected = [
        r"empty/index\.html: no heading: an empty or broken page",
        r"guide/index\.html: http://127\.0\.0\.1:\d+/logo\.png answered 404",
        r"guide/index\.html: console error: Failed to load resource: .* 404 .*",
        r"noisy/index\.html: console error: boom",
        r"noisy/index\.html: uncaught .*missingFunction is not defined",
        r"index\.html: broken link to http://127\.0\.0\.1:\d+/missing/",
        r"index\.html: no anchor #nowhere in guide/index\.html",
    ]
    unmatched = [line for line in found if not any(re.fullmatch(p, line) for p in expected)]
    missed = [p for p in expected if not any(re.fullmatch(p, line) for line in found)]
    assert (unmatched, missed) == ([], []), "\n".join(found)
