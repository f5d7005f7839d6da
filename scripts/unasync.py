"""Generate the synchronous store from its asynchronous source, as httpcore does.

``helium_secrets/_async/<module>.py`` is the source; ``helium_secrets/<module>.py`` is written
from it line by line with the substitutions below (``await`` dropped, ``async def`` -> ``def``,
``AsyncX`` -> ``X``, ``aclose`` -> ``close``, ``helium_secrets._async.`` -> ``helium_secrets.``).
The primitives that differ (locks, events, the coalescing flight, background work) are
hand-written twice, in ``helium_secrets/_synchronization.py`` and
``helium_secrets/_async/_synchronization.py``, and are not generated.

    python scripts/unasync.py          # regenerate
    python scripts/unasync.py --check  # fail (exit 1) if a generated module is out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "helium_secrets" / "_async"
TARGET = ROOT / "helium_secrets"
#: The async modules and the sync module each becomes.
MODULES = ["_pipeline.py", "_reads.py", "_writes.py", "_rotation.py", "_leases.py", "_store.py"]

SUBS = [
    (r"\bhelium_secrets\._async\.", "helium_secrets."),
    (r"\bhelium_secrets/_async/", "helium_secrets/"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAwaitable\[((?:[^\[\]]|\[[^\[\]]*\])*)\]", r"\1"),
    (r"\bAsync([A-Z][A-Za-z0-9_]*)", r"\1"),
    (r"\basync def ", "def "),
    (r"\basync with ", "with "),
    (r"\basync for ", "for "),
    (r"\bawait ", ""),
    (r"\baclose\b", "close"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\bopen_async_store\b", "open_store"),
]
COMPILED = [(re.compile(pattern), repl) for pattern, repl in SUBS]
#: A source line ending with this marker has no sync counterpart (an async-only import).
DROP = "# unasync: drop"


def header(name: str) -> str:
    return (f"# Generated from helium_secrets/_async/{name} by scripts/unasync.py: do not edit.\n"
            "# Change the async source and run the script (CI checks that they agree).\n")


def unasync_line(line: str) -> str:
    for pattern, repl in COMPILED:
        line = pattern.sub(repl, line)
    return line


def unasync(text: str, name: str) -> str:
    lines = [unasync_line(line) for line in text.splitlines(keepends=True)
             if not line.rstrip().endswith(DROP)]
    out = "".join(lines)
    # ``Awaitable[T]`` became ``T``: an import of it that nothing uses any more goes.
    if len(re.findall(r"\bAwaitable\b", out)) == 1:
        out = re.sub(r"\bAwaitable, |, Awaitable\b", "", out, count=1)
    return header(name) + out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in MODULES:
        expected = unasync((SOURCE / name).read_text(encoding="utf-8"), name)
        target = TARGET / name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == expected:
            continue
        if check:
            stale.append(str(target.relative_to(ROOT)))
        else:
            target.write_text(expected, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print("out of date with helium_secrets/_async/ (run python scripts/unasync.py): "
              + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
