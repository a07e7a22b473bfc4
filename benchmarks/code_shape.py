"""The shape of the code, as a newcomer meets it: function lengths, ``Any`` count, module sizes, kinds.

``python -m benchmarks.code_shape`` prints, for the ``tb_featureviz`` package:

* function length (lines from ``def`` to the last line of the body, by AST): p50, p90, max, and the longest;
* how many times ``Any`` is used (by AST, so docstrings, comments and imports do not count);
* the largest modules (lines), Python and JavaScript;
* the kinds of the registry (``tb_featureviz.kinds``) and the dashboard's table (``frontend/kinds.js``).
"""

from __future__ import annotations

import argparse
import ast
import statistics
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tb_featureviz"


def _functions(tree: ast.AST, path: Path, root: Path, *, docstrings: bool = True) -> list[tuple[int, str]]:
    """``(lines, "path:name")`` of every function; without ``docstrings``, their lines are left out."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            lines = node.end_lineno - start + 1
            first = node.body[0]
            if not docstrings and isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                assert first.end_lineno is not None
                lines -= first.end_lineno - first.lineno + 1
            out.append((lines, f"{path.relative_to(root)}:{node.name}"))
    return out


def _any_count(tree: ast.AST) -> int:
    """Uses of ``Any`` in code (annotations, aliases, casts); its imports are not counted."""
    names = sum(isinstance(n, ast.Name) and n.id == "Any" for n in ast.walk(tree))
    attributes = sum(isinstance(n, ast.Attribute) and n.attr == "Any" for n in ast.walk(tree))
    return names + attributes


def measure(package: Path = PACKAGE) -> dict:
    functions: list[tuple[int, str]] = []
    code: list[tuple[int, str]] = []
    any_count = 0
    modules: list[tuple[int, str]] = []
    for path in sorted(package.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        functions.extend(_functions(tree, path, package.parent))
        code.extend(_functions(tree, path, package.parent, docstrings=False))
        any_count += _any_count(tree)
        modules.append((source.count("\n"), str(path.relative_to(package.parent))))
    scripts = [
        (p.read_text(encoding="utf-8").count("\n"), str(p.relative_to(package.parent))) for p in package.rglob("*.js")
    ]
    lengths = sorted(n for n, _ in functions)
    q = statistics.quantiles(lengths, n=10)
    return {
        "functions": len(lengths),
        "p50": statistics.median(lengths),
        "p90": q[-1],
        "max": max(functions),
        "longest": sorted(functions, reverse=True)[:8],
        "code_p90": statistics.quantiles(sorted(n for n, _ in code), n=10)[-1],
        "code_max": max(code),
        "any": any_count,
        "modules": len(modules),
        "largest_py": sorted(modules, reverse=True)[:5],
        "largest_js": sorted(scripts, reverse=True)[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, default=PACKAGE, help="another checkout's tb_featureviz folder")
    args = parser.parse_args()
    m = measure(args.package.resolve())
    print(
        f"functions: {m['functions']}, length p50 {m['p50']:.0f}, p90 {m['p90']:.0f}, max {m['max'][0]} ({m['max'][1]})"
    )
    print(f"without docstrings: p90 {m['code_p90']:.0f}, max {m['code_max'][0]} ({m['code_max'][1]})")
    print("longest:", ", ".join(f"{name} {n}" for n, name in m["longest"]))
    print(f"Any (uses in code): {m['any']}")
    print(f"modules: {m['modules']}; largest:", ", ".join(f"{name} {n}" for n, name in m["largest_py"]))
    print("largest JS:", ", ".join(f"{name} {n}" for n, name in m["largest_js"]))
    try:
        from tb_featureviz import kinds
    except ImportError:
        return
    print("kinds:", ", ".join(kinds.REGISTRY))


if __name__ == "__main__":
    main()
