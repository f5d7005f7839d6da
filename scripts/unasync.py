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

import io
import re
import sys
import tokenize
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


def _open_brackets(text: str) -> dict[int, tuple[int, int] | None]:
    """For each line that ends inside brackets, the (line, column) of the innermost open one."""
    stack: list[tuple[int, int]] = []
    innermost: dict[int, tuple[int, int] | None] = {}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.OP and token.string in "([{":
            stack.append(token.start)
        elif token.type == tokenize.OP and token.string in ")]}":
            stack.pop()
        elif token.type in (tokenize.NEWLINE, tokenize.NL):
            innermost[token.start[0]] = stack[-1] if stack else None
    return innermost


def unasync(text: str, name: str) -> str:
    source = text.splitlines(keepends=True)
    innermost = _open_brackets(text)
    out_lines: list[str] = []
    dedents: dict[int, int] = {}  # line number (1-based) -> spaces taken off its indent
    for number, line in enumerate(source, start=1):
        converted = unasync_line(line)
        bracket = innermost.get(number - 1)
        indent = len(line) - len(line.lstrip(" "))
        if bracket is not None and indent == bracket[1] + 1:
            # Aligned with the bracket of the line above, which the substitutions moved left.
            row, column = bracket
            moved = len(unasync_line(source[row - 1][:column])) - dedents.get(row, 0)
            dedents[number] = max(0, column - moved)
            converted = converted[dedents[number]:]
        if not line.rstrip().endswith(DROP):
            out_lines.append(converted)
    out = "".join(out_lines)
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
