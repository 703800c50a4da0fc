"""The docs' tables, written from the records: `python -m vgan.records render [--check]`.

README.md and the pages under docs/ hold marked blocks,

    <!-- records:NAME -->
    ...whatever the last render wrote...
    <!-- /records -->

and NAME is a spec in results/tables/*.yaml. Rendering replaces each block's contents with what
its spec makes of the records (vgan.records.load_records), so no number is typed twice; with
`check=True` nothing is written and the blocks that differ are returned (the test suite and CI
run it). A spec is one of:

    NAME:                                  # a table, one row per record
      header: [run, modes, KL]
      cells: ["{label}", "{r[modes]:,}", "{r[kl]:.3f}"]
      rows:                                # `defaults:` holds constants every row shares
        - {record: stackedmnist/seeds/stable_s0, label: "seed 0"}
      best: {modes: max, KL: min}          # optional: bold each column's best first number
    NAME: {text: "{r[fid.mean]:.1f}", record: mnist/seeds/stable}     # inline text
    NAME: {figure: mnist/figures/default, alt: "samples"}             # an image and its provenance
    NAME: {figure: [a, b], alt: ["VGAN", "CD"]}                       # images side by side
    NAME: {keys: true}                     # the reference of every config key (vgan.config)
    NAME: {presets: true}                  # the presets and their descriptions (vgan.config.files)

Templates are Python format strings. `r` is the row's record (`records: {alias: id}` adds more):
`{r[key]}` reads a value, `{r.command}`, `{r.date}`, `{r.scale}` and `{r.where}` (its machine in
a few words) read the record; `P` is the paper's numbers (vgan.records.paper.PAPER), and any other
key of the row is a constant, `{name}` in a template or `$name` spliced into one before it is
formatted (`{r[$metric.seed$s]}`). A value a record lacks renders as "—", but a key that no row of a
table has is an error (a typo).
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import yaml

from .._utils.atomic import write_atomic
from ..runs.outputs import check_output
from .paper import PAPER
from .record import ROOT, RecordError, load_records

SPECS = Path(ROOT) / "tables"
MARK = re.compile(r"(?<!`)<!-- records:([\w./-]+) -->(.*?)<!-- /records -->", re.S)  # `quoted` ones are text
DASH = "—"
DOLLAR = re.compile(r"\$(\w+)")


class Missing:
    """A value a record lacks: formats as a dash whatever the format spec."""

    def __getitem__(self, key: Any) -> Missing:
        return self

    def __format__(self, spec: str) -> str:
        return DASH


class View:
    """A record as templates see it; notes which value keys it was asked for and lacked."""

    def __init__(self, rid: str, record: Dict[str, Any], asked: Dict[str, bool]):
        self.id, self._record, self._asked = rid, record, asked

    def __getitem__(self, key: str) -> Any:
        values = self._record["values"]
        self._asked[key] = self._asked.get(key, False) or key in values
        value = values.get(key)
        return Missing() if value is None else value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._record:
            raise AttributeError(name)
        return self._record[name]

    @property
    def where(self) -> str:
        m = self._record["machine"]
        if m.get("gpu"):
            return str(m["gpu"])
        cpu = str(m.get("cpu", "CPU"))
        threads = m.get("threads")
        return f"{cpu}, {threads} thread{'' if threads == 1 else 's'}" if threads else cpu


class _Unusable:
    """A constant whose template failed: formatting it raises that error."""

    def __init__(self, error: str):
        self.error = error

    def __format__(self, spec: str) -> str:
        raise RecordError(self.error)


class _Formatter(string.Formatter):
    def format_field(self, value: Any, spec: str) -> str:
        if value is None or isinstance(value, Missing):
            return DASH
        return super().format_field(value, spec)


FORMAT = _Formatter()


def load_specs(folder: str | Path = SPECS) -> Dict[str, Dict[str, Any]]:
    """Every spec of every YAML file in `folder`; a name given twice is an error."""
    specs: Dict[str, Dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            content = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise RecordError(f"{path} is not readable YAML ({' '.join(str(e).split())[:120]}); fix it") from None
        if not isinstance(content, dict):
            raise RecordError(f"{path} does not map block names to specs; fix it")
        for name, spec in content.items():
            if name in specs:
                raise RecordError(f"table spec {name} is given twice (again in {path}); rename one")
            specs[name] = spec
    return specs


def _namespace(row: Dict[str, Any], records: Dict[str, Dict], asked: Dict[str, bool], where: str) -> Dict:
    ns = {k: v for k, v in row.items() if k not in ("record", "records", "cells")}
    refs = dict(row.get("records") or {}, **({"r": row["record"]} if row.get("record") else {}))
    for alias, rid in refs.items():
        if rid not in records:
            raise RecordError(f"{where} names record {rid}, which is not under {ROOT}/; add it or fix the name")
        ns[alias] = View(rid, records[rid], asked)
    ns = {"P": PAPER, **ns}
    for key, value in list(ns.items()):  # a constant may itself be a template: "{P[table2][mnist][No augmentation]}"
        if isinstance(value, str) and "{" in value:
            try:
                ns[key] = _fill(value, ns, where)
            except RecordError as e:  # an error only where a cell uses it (a row may override the cells)
                ns[key] = _Unusable(str(e))
    return ns


def _fill(template: str, ns: Dict[str, Any], where: str) -> str:
    def constant(match: re.Match) -> str:  # `$name`: a row's constant spliced in before formatting
        value = ns.get(match.group(1))
        return str(value) if isinstance(value, (str, int, float)) else match.group(0)

    try:
        return FORMAT.format(DOLLAR.sub(constant, str(template)), **ns)
    except RecordError:
        raise
    except (KeyError, AttributeError, IndexError, ValueError, TypeError) as e:
        raise RecordError(f"{where}: template {template!r} fails ({type(e).__name__}: {e})") from None


def _check_asked(asked: Dict[str, bool], where: str) -> None:
    never = sorted(k for k, found in asked.items() if not found)
    if never:
        raise RecordError(f"{where} reads value(s) {', '.join(never)}, which no record of it has; fix the spec")


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")


NUMBER = re.compile(r"(?<![\w.-])-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")  # not the 2 of run-2


def _bold_best(name: str, spec: Dict, table: List[List[str]]) -> None:
    """`best: {column: max|min}`: bold the cell whose first number is the column's largest
    (smallest); ties are all bold, and a cell with no number (a dash) takes no part."""
    for column, way in (spec.get("best") or {}).items():
        if column not in spec["header"] or way not in ("max", "min"):
            raise RecordError(f"table {name}: best names {column}: {way}; name a column of the header and max or min")
        j = spec["header"].index(column)
        found = {i: NUMBER.search(row[j]) for i, row in enumerate(table)}
        values = {i: float(m.group().replace(",", "")) for i, m in found.items() if m}
        if values:
            top = (max if way == "max" else min)(values.values())
            for i, v in values.items():
                if v == top:
                    table[i][j] = f"**{table[i][j]}**"


def _table(name: str, spec: Dict, records: Dict[str, Dict]) -> str:
    """A table, one row per record; with `item:` a bullet list instead (commands read better there
    than in a narrow cell); with `below:` a bullet list of that template under the table, one item
    per row whose text is not empty."""
    asked: Dict[str, bool] = {}
    listed = "item" in spec
    lines = [] if listed else ["| " + " | ".join(map(str, spec["header"])) + " |", "|" + "---|" * len(spec["header"])]
    under, table = [], []
    for i, row in enumerate(spec["rows"]):
        where = f"table {name}, row {i + 1}"
        ns = _namespace({**(spec.get("defaults") or {}), **row}, records, asked, where)
        if listed:
            lines.append("- " + _cell(_fill(row.get("item") or spec["item"], ns, where)))
            continue
        cells = [_cell(_fill(t, ns, where)) for t in row.get("cells") or spec["cells"]]
        if len(cells) != len(spec["header"]):
            raise RecordError(f"{where} has {len(cells)} cells for {len(spec['header'])} columns; fix the spec")
        table.append(cells)
        below = row.get("below", spec.get("below"))
        if below:
            under.append("- " + _cell(_fill(below, ns, where)))
    _check_asked(asked, f"table {name}")
    _bold_best(name, spec, table)
    lines += ["| " + " | ".join(cells) + " |" for cells in table]
    return "\n".join(lines + ([""] + under if under else []))


def _figure(name: str, spec: Dict, records: Dict[str, Dict], page: Path, repo: Path) -> str:
    """One image and its caption; with lists for `figure` and `alt`, the images side by side in a
    one-row table headed by the alts, captioned by the first record."""
    ids, alts = spec["figure"], spec["alt"]
    several = isinstance(ids, list)
    if several != isinstance(alts, list):
        raise RecordError(f"figure {name}: give figure and alt both as lists or both as one value")
    ids, alts = (ids, alts) if several else ([ids], [alts])
    if len(ids) != len(alts):
        raise RecordError(f"figure {name} has {len(ids)} records for {len(alts)} alts; give one alt an image")
    images, first = [], None
    for rid, alt in zip(ids, alts):
        ns = _namespace({"record": rid}, records, {}, f"figure {name}")
        if not isinstance(ns["r"]["image"], str):
            raise RecordError(f"figure {name}: record {rid} names no image; record one (e.g. vgan sample --record)")
        image = repo / ns["r"]["image"]
        if not image.is_file():
            raise RecordError(f"figure {name}: {image} does not exist; fix the record's image")
        images.append(f"![{alt}]({os.path.relpath(image, page.parent).replace(os.sep, '/')})")
        first = first or ns
    caption = spec.get("caption", "`{r.command}` ({r.where}, {r.date}; {r.scale})")
    head = " | ".join(_cell(str(a)) for a in alts)
    body = f"| {head} |\n|{'---|' * len(alts)}\n| {' | '.join(images)} |" if several else images[0]
    return f"{body}\n\n*{_fill(caption, first, f'figure {name}')}*"


def _keys() -> str:
    from ..config import describe_keys

    lines = ["| key | type | default | allowed | `--resume` | what it does |", "|---|---|---|---|---|---|"]
    for k in describe_keys():
        default = "null" if k["default"] is None else str(k["default"]).lower() if k["type"] == "bool" else k["default"]
        fixed = "fixed" if k["fixed_on_resume"] else "may change"
        cells = [f"`{k['key']}`", k["type"], f"`{default}`", k["allowed"] or DASH, fixed, k["help"]]
        lines.append("| " + " | ".join(_cell(str(c)) for c in cells) + " |")
    return "\n".join(lines)


def _presets() -> str:
    from ..config.files import list_presets

    rows = [f"| `{name}` | {_cell(text)} |" for name, text in list_presets().items()]
    return "\n".join(["| preset | what it is |", "|---|---|", *rows])


def render_block(name: str, spec: Dict, records: Dict[str, Dict], page: Path, repo: Path) -> str:
    """The contents of the block NAME on `page`: a table, figure or key reference between blank
    lines, or inline text. A spec of the wrong shape is a one-line RecordError that names it."""
    try:
        return _render_block(name, spec, records, page, repo)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        reason = " ".join(str(e).split())[:120] or type(e).__name__
        raise RecordError(f"table spec {name} is malformed ({type(e).__name__}: {reason}); fix it in {SPECS}") from None


def _render_block(name: str, spec: Dict, records: Dict[str, Dict], page: Path, repo: Path) -> str:
    if not isinstance(spec, dict):
        raise RecordError(f"table spec {name} is not a mapping of settings; fix it in {SPECS}")
    if "text" in spec:
        asked: Dict[str, bool] = {}
        out = _fill(spec["text"], _namespace(spec, records, asked, f"text {name}"), f"text {name}")
        _check_asked(asked, f"text {name}")
        return out
    if "figure" in spec:
        body = _figure(name, spec, records, page, repo)
    elif spec.get("keys"):
        body = _keys()
    elif spec.get("presets"):
        body = _presets()
    elif "rows" in spec:
        body = _table(name, spec, records)
    else:
        raise RecordError(f"table spec {name} is none of table, text, figure, keys, presets; fix it")
    return f"\n\n{body}\n\n"


def render_page(
    text: str, specs: Dict[str, Dict], records: Dict[str, Dict], page: Path, repo: Path, used: Set[str]
) -> Tuple[str, List[str]]:
    """`text` with every marked block rendered, and the names of the blocks that changed."""
    changed: List[str] = []

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name not in specs:
            raise RecordError(f"{page} marks block {name}, which no spec in {SPECS} defines; add it or fix the name")
        used.add(name)
        body = render_block(name, specs[name], records, page, repo)
        if body != match.group(2):
            changed.append(name)
        return f"<!-- records:{name} -->{body}<!-- /records -->"

    return MARK.sub(one, text), changed


def pages(repo: Path) -> List[Path]:
    """README.md and every Markdown page under docs/."""
    return [p for p in [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))] if p.is_file()]


def render_repo(repo: str | Path = ".", check: bool = False, specs: Optional[Dict] = None) -> Dict[str, List[str]]:
    """Render every marked block of the repository's pages from its records (write nothing with
    `check`); returns page -> the names of its blocks that differed. A spec no page uses is an error."""
    repo = Path(repo)
    records = load_records(repo / ROOT)
    specs = load_specs(repo / SPECS) if specs is None else specs
    used: Set[str] = set()
    stale: Dict[str, List[str]] = {}
    rendered: Dict[Path, str] = {}
    for page in pages(repo):  # every page rendered and checked before the first is written
        if not check:
            check_output(page, suffix=".md", what="page")  # never through a link, a folder or a device
        new, changed = render_page(page.read_text(), specs, records, page, repo, used)
        if changed:
            stale[str(page.relative_to(repo))] = changed
            rendered[page] = new
    unused = sorted(set(specs) - used)
    if unused:
        raise RecordError(f"table spec(s) {', '.join(unused)} are used on no page; mark a block or remove them")
    for page, new in rendered.items() if not check else ():
        write_atomic(page, new)  # a full disk leaves the old page, never half of the new one
    return stale
