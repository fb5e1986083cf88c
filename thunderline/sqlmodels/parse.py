"""Reading ``models/*.sql``: config line, description, and the ``{{ … }}`` calls with their lines.

A model file is plain SQL (one SELECT, optionally starting with WITH) plus
template calls ``{{ fn('literal', …) }}`` whose arguments are Python literals.
The first line may be a config comment ``-- materialized: table|view``; the
other leading ``--`` lines are the model's description. Every call stays on
one line and renders to one line, so a line of the rendered SQL is the same
line of the file — that is what lets a database error point at the model's line.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

MATERIALIZATIONS = ("table", "view")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_CALL = re.compile(r"\{\{\s*(?P<fn>[A-Za-z_]\w*)\s*\((?P<args>[^{}\n]*)\)\s*\}\}")
_OPEN = re.compile(r"\{\{|\{%|\{#")
_CONFIG = re.compile(r"^--\s*materialized\s*:\s*(?P<value>\S+)\s*$", re.IGNORECASE)


class SqlModelError(RuntimeError):
    """A model cannot be compiled or run. Names the model, its file and (when known) the line."""

    def __init__(self, model: str, path: str | Path, line: int | None, reason: str, source_line: str | None = None):
        self.model, self.path, self.line, self.reason = model, str(path), line, reason
        where = f"{self.path}:{line}" if line else self.path
        text = f"{where}: model {model!r}: {reason}"
        if line and source_line is not None:
            text += f"\n  {line:>4} | {source_line.rstrip()}"
        super().__init__(text)


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple
    line: int
    start: int  # offset of "{{" in the file text
    end: int  # offset just after "}}"


@dataclass(frozen=True)
class SqlModel:
    name: str
    path: Path
    text: str  # the file, trailing ';' and whitespace removed
    materialized: str
    description: str
    calls: tuple[Call, ...]

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(sorted({c.args[0] for c in self.calls if c.fn == "ref"}))

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({c.args[0] for c in self.calls if c.fn == "source"}))

    @property
    def relation(self) -> str:
        """The table or view the model materialises into."""
        return f"sqlm_{self.name}"

    def line_text(self, line: int) -> str | None:
        lines = self.text.splitlines()
        return lines[line - 1] if 1 <= line <= len(lines) else None

    def error(self, line: int | None, reason: str) -> SqlModelError:
        return SqlModelError(self.name, self.path, line, reason, self.line_text(line) if line else None)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def parse_model(path: str | Path) -> SqlModel:
    path = Path(path)
    name = path.stem
    raw = path.read_text(encoding="utf-8")
    text = raw.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()

    def fail(line: int | None, reason: str) -> SqlModelError:
        lines = text.splitlines()
        return SqlModelError(name, path, line, reason, lines[line - 1] if line and line <= len(lines) else None)

    if not _NAME.match(name):
        raise fail(None, "model file names must be lower_snake_case (they become table names sqlm_<name>)")
    if ";" in _strip_strings_and_comments(text):
        raise fail(_line_of(text, _strip_strings_and_comments(text).index(";")), "a model is one statement: remove ';'")

    lines = text.splitlines()
    materialized, description = "table", []
    for i, line in enumerate(lines, start=1):
        if not line.startswith("--"):
            break
        m = _CONFIG.match(line)
        if m and i == 1:
            materialized = m.group("value").lower()
            if materialized not in MATERIALIZATIONS:
                raise fail(1, f"materialized must be one of {', '.join(MATERIALIZATIONS)}, got {m.group('value')!r}")
        elif m:
            raise fail(i, "the config comment must be the first line")
        else:
            description.append(line[2:].strip())

    calls: list[Call] = []
    covered: list[tuple[int, int]] = []
    for m in _CALL.finditer(text):
        line = _line_of(text, m.start())
        try:
            args = ast.literal_eval("(" + m.group("args") + ",)") if m.group("args").strip() else ()
        except (ValueError, SyntaxError):
            raise fail(line, f"arguments of {m.group('fn')}() must be literals, e.g. 'name' or 7: "
                             f"{m.group('args').strip()!r}") from None
        calls.append(Call(m.group("fn"), tuple(args), line, m.start(), m.end()))
        covered.append((m.start(), m.end()))
    for m in _OPEN.finditer(text):
        if not any(a <= m.start() < b for a, b in covered):
            raise fail(_line_of(text, m.start()),
                       "unsupported template syntax: only single-line {{ fn('arg', …) }} calls are allowed")
    return SqlModel(name, path, text, materialized, " ".join(d for d in description if d), tuple(calls))


def load_models(directory: str | Path) -> dict[str, SqlModel]:
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"SQL models directory not found: {directory}")
    return {p.stem: parse_model(p) for p in sorted(directory.glob("*.sql"))}


def _strip_strings_and_comments(text: str) -> str:
    """``text`` with string literals and ``--`` comments blanked (same length and newlines)."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        if text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif text[i] == "'":
            j = i + 1
            while j < n and not (text[j] == "'" and not text.startswith("''", j)):
                j += 2 if text.startswith("''", j) else 1
            j = min(j + 1, n)
            out[i:j] = [c if c == "\n" else " " for c in text[i:j]]
            i = j
        else:
            i += 1
    return "".join(out)
