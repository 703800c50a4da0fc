"""Check the built site (mkdocs build) for what a strict build lets through but a reader sees.

    python tools/check_site.py [--site site]      # exit 1 and one line per finding, 0 when clean

In every page's HTML it finds:
- unrendered snippet syntax (`--8<--`) and records markers shown as text;
- literal list dashes: a paragraph or text that starts a line with "- " (a list that did not render);
- tags that HTML does not have, which a browser swallows (`<run_dir>` from a docstring);
- emphasis opened inside a word (`p*softplus(-a) + (1-p)*softplus(a)` read as italics);
- images whose file is not in the site;
- code in a table cell longer than CODE_IN_CELL characters, which a laptop-wide page wraps
  mid-word: put such a command below the table.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

CODE_IN_CELL = 60
KNOWN = set(
    """a abbr address article aside b blockquote body br button caption circle clipPath code col colgroup dd defs del
    details dfn div dl dt em figcaption figure footer form g h1 h2 h3 h4 h5 h6 head header hr html i iframe img input
    ins kbd label legend li line link main mark meta nav noscript ol optgroup option p path pre polygon polyline q rect
    s samp script section select small source span strong style sub summary sup svg symbol table tbody td template
    textarea tfoot th thead time title tr u ul use var video wbr""".split()
)
SKIP_TEXT = {"pre", "code", "script", "style", "svg", "textarea"}  # text that is shown as written


class Page(HTMLParser):
    def __init__(self, path: Path, site: Path):
        super().__init__(convert_charrefs=True)
        self.path, self.site, self.findings = path, site, []
        self.stack: list = []
        self.cell_code: list = []  # code spans inside the current table cell
        self.before = ""  # the text just before the current tag

    def find(self, what: str) -> None:
        self.findings.append(f"{self.path.relative_to(self.site)}: {what}")

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag.lower() not in KNOWN and not tag.startswith(("md-", "mjx")):
            self.find(f"<{tag}> is no HTML tag: a docstring's <...> was read as one (write it in backticks)")
        if tag == "em" and re.search(r"[A-Za-z0-9)]\Z", self.before):
            self.find(f"emphasis opened inside a word after {self.before[-20:]!r}: '*' read as italics (use backticks)")
        if tag == "img":
            src = attrs.get("src") or ""
            if src and not src.startswith(("http:", "https:", "data:")):
                target = (self.path.parent / src.split("#")[0].split("?")[0]).resolve()
                if not target.is_file():
                    self.find(f"image {src} does not load (no such file in the site)")
        if tag not in ("br", "img", "hr", "meta", "link", "input", "col", "wbr", "source", "path", "use"):
            self.stack.append(tag)
        if tag == "td":
            self.cell_code = []
        self.before = ""

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass
        if tag == "td":
            for code in self.cell_code:
                if len(code) > CODE_IN_CELL:
                    self.find(
                        f"a table cell holds {len(code)} characters of code ({code[:40]}...): put it below the table"
                    )
        self.before = ""

    def handle_data(self, data):
        inside = set(self.stack)
        if "code" in inside and "td" in inside:
            if self.stack[-1] == "code":
                self.cell_code.append(data)
        if not (inside & SKIP_TEXT):
            if "--8<--" in data:
                self.find(f"unrendered snippet syntax: {data.strip()[:60]!r}")
            if "<!-- records" in data or "<!-- /records" in data:
                self.find("a records marker shown as text")
            if re.search(r"(^|\n)[ \t]*- (\S|$)", data) and "p" in inside:
                self.find(f"a literal list dash (a list that did not render): {data.strip()[:60]!r}")
        self.before = (self.before + data)[-40:]


SNIPPET = re.compile(r"-\s*-\s*8\s*<\s*-\s*-")  # --8<-- even split into code spans


def check(site: Path) -> list:
    findings = []
    for path in sorted(site.rglob("*.html")):
        if path.name == "404.html":
            continue
        text = path.read_text(errors="replace")
        page = Page(path, site)
        page.feed(text)
        findings += page.findings
        shown = html.unescape(re.sub(r"<[^>]+>", "", text))
        if SNIPPET.search(shown):
            findings.append(f"{path.relative_to(site)}: unrendered snippet syntax (--8<--), in code too")
    return findings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default="site", help="the folder mkdocs built (default: site)")
    args = parser.parse_args(argv)
    site = Path(args.site)
    if not (site / "index.html").is_file():
        print(f"check_site: {site} holds no built site (no index.html); run mkdocs build first", file=sys.stderr)
        return 2
    findings = check(site)
    for line in findings:
        print(line)
    print(f"check_site: {len(findings)} finding(s) in {site}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
