"""Size guard rails: no function over 80 lines (numba kernels aside), a median module of at most 150.

Why: a long function mixes purposes and cannot be read, tested or changed one purpose at a time; the
developers' guide sets 80 lines. Numba kernels are exempt: a kernel is one compiled loop, and cutting
it into calls costs inlining and, measured, speed; each has a plain reference twin in the tests.

A function's length is its span from the ``def`` line to its last line (docstring and comments
included, decorators not). Nested functions count on their own and inside their parent.
"""

from __future__ import annotations

import ast
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("thunderline", "thunderline_cli", "thunderline_assets", "jobs", "sensors", "resources", "bench")
MAX_FUNCTION_LINES = 80
MAX_MEDIAN_MODULE_LINES = 150
NUMBA_DECORATORS = {"njit", "jit", "vectorize", "guvectorize", "generated_jit", "cfunc", "stencil"}


def _numba_name(node: ast.expr) -> str | None:
    """``njit`` for ``njit``, ``nb.njit``, ``numba.njit(...)``: the numba entry point an expression names."""
    if isinstance(node, ast.Call):
        node = node.func
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
    return name if name in NUMBA_DECORATORS else None


def numba_kernels(tree: ast.Module) -> set[str]:
    """Names of the functions numba compiles: decorated with a numba entry point, or passed to one
    (``kernel = nb.njit(cache=True)(_kernel_py)``)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(_numba_name(d) for d in node.decorator_list):
                out.add(node.name)
        elif isinstance(node, ast.Call) and _numba_name(node.func):
            out.update(a.id for a in node.args if isinstance(a, ast.Name))
    return out


def long_functions(source: str, path: str = "<source>", limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``path:function:length`` of every function over ``limit`` lines that numba does not compile."""
    tree = ast.parse(source)
    kernels = numba_kernels(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in kernels:
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                out.append(f"{path}:{node.name}:{length}")
    return out


def modules() -> list[Path]:
    return sorted(p for root in ROOTS for p in (REPO / root).rglob("*.py"))


def test_the_measure_finds_a_long_function_and_spares_a_kernel():
    body = "".join(f"    x{i} = {i}\n" for i in range(88))
    source = f"def long_one():\n{body}\n\n@nb.njit(cache=True)\ndef kernel():\n{body}\n\ndef _py():\n{body}\n" \
             f"compiled = numba.njit(nogil=True)(_py)\n\ndef short():\n    return 1\n"
    assert long_functions(source, "m.py") == ["m.py:long_one:89"]


def test_no_function_over_80_lines_outside_numba_kernels():
    found = [f for p in modules() for f in long_functions(p.read_text(), str(p.relative_to(REPO)))]
    assert not found, (f"functions over {MAX_FUNCTION_LINES} lines (split them by purpose; numba kernels are "
                       "exempt):\n" + "\n".join(found))


def test_median_module_at_most_150_lines():
    lengths = [len(p.read_text().splitlines()) for p in modules()]
    median = statistics.median(lengths)
    assert median <= MAX_MEDIAN_MODULE_LINES, (f"median module is {median:.0f} lines over {len(lengths)} modules "
                                               f"(at most {MAX_MEDIAN_MODULE_LINES})")
