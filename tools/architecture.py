"""Draw vgan's architecture map from the code: the layers of the import contract in pyproject.toml
([tool.importlinter]) top to bottom, each with its modules (the first line of each docstring) and
the layers below it that it really imports (grimp, the graph import-linter checks).

    python tools/architecture.py            # rewrite the marked block of docs/engineering/architecture.md
    python tools/architecture.py --check    # exit 1 when the page and the code disagree (CI)
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "engineering" / "architecture.md"
MARK = re.compile(r"(<!-- architecture -->\n)(.*?)(<!-- /architecture -->)", re.S)


def layers() -> list[list[str]]:
    """The layers contract's layers, top first, each a list of its packages (`a | b`: side by side)."""
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r'type = "layers"\nlayers = \[(.*?)\n\]', text, re.S).group(1)  # read as text: tomllib is 3.11+
    return [[p.strip() for p in layer.split("|")] for layer in re.findall(r'"([^"]+)"', block)]


def summary(module: str) -> str:
    """The first sentence of a module's docstring."""
    parts = module.split(".")
    path = ROOT / "src" / Path(*parts)
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    first = " ".join(doc.strip().split("\n\n")[0].split())  # the first paragraph, on one line
    sentence = re.split(r"(?<![Ee]q)\. (?=[A-Z`(])", first + " ")[0].strip()
    return sentence.rstrip(".").replace("|", "\\|")


def render() -> str:
    graph = grimp.build_graph("vgan")
    stack = layers()
    order = {pkg: i for i, layer in enumerate(stack) for pkg in layer}
    rows = ["| layer | room | imports (from the code) | what it holds |", "|---|---|---|---|"]
    for i, layer in enumerate(stack):
        for pkg in layer:
            modules = sorted(m for m in graph.modules if m == pkg or m.startswith(pkg + "."))
            imported = set()
            for m in modules:
                for other in graph.find_modules_directly_imported_by(m):
                    owner = next((p for p in order if other == p or other.startswith(p + ".")), None)
                    if owner and owner != pkg:
                        imported.add(owner)
            below = (
                ", ".join(f"`{p.removeprefix('vgan.')}`" for p in sorted(imported, key=lambda p: (order[p], p))) or "—"
            )
            rows.append(f"| {i + 1} | `{pkg.removeprefix('vgan.')}` | {below} | {summary(pkg)} |")
    lines = ["\n".join(rows), ""]
    for layer in stack:
        for pkg in layer:
            depth = pkg.count(".") + 1
            children = sorted(m for m in graph.modules if m.startswith(pkg + ".") and m.count(".") == depth)
            if children:
                items = "; ".join(f"`{c.rsplit('.', 1)[1]}`: {summary(c)}" for c in children if summary(c))
                lines.append(f"- **`{pkg.removeprefix('vgan.')}/`** — {items}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when the page is stale")
    args = parser.parse_args(argv)
    page = PAGE.read_text()
    if not MARK.search(page):
        print(f"{PAGE} has no <!-- architecture --> block; add one", file=sys.stderr)
        return 2
    new = MARK.sub(lambda m: m.group(1) + render() + m.group(3), page)
    if args.check:
        if new != page:
            print(f"{PAGE.relative_to(ROOT)} differs from the code; run python tools/architecture.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(new)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
