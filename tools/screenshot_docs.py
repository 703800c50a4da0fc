"""Open the built docs' home page and reproduction page in headless Chromium, save a screenshot of
each, and fail when an image on either page did not load.

    python tools/screenshot_docs.py [--site site] [--out screenshots] [--chromium chromium]

`mkdocs build` writes the site first. The pages are served over HTTP from --site by a small
server in this process, which adds one script to every HTML page it serves: on the load event it
records, on <body>, each <img> that is not complete or has no natural width. Chromium's
`--dump-dom` then shows that record; any 404 the server answers fails the check too.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

PAGES = {"home": "", "reproduction": "paper/reproduction/"}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
CHECK = b"""<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const bad = imgs.filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.getAttribute("src"));
  document.body.setAttribute("data-images", imgs.length);
  document.body.setAttribute("data-broken-images", JSON.stringify(bad));
});
</script>"""


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the site, adds CHECK to HTML pages, and remembers what it could not find."""

    missing: list = []

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix != ".html" or not path.is_file():
            return super().send_head()
        body = path.read_bytes().replace(b"</body>", CHECK + b"</body>", 1)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def send_error(self, code, message=None, explain=None):
        if code == 404 and not self.path.endswith("favicon.ico"):
            Handler.missing.append(self.path)
        super().send_error(code, message, explain)

    def log_message(self, *args):  # quiet
        pass


def chromium(binary: str, profile: str, *args: str) -> str:
    cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default="site", help="the folder `mkdocs build` wrote")
    parser.add_argument("--out", default="screenshots", help="where the PNGs go")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args()
    site, out = Path(args.site), Path(args.out)
    if not (site / "index.html").is_file():
        print(f"{site}/index.html does not exist; run `mkdocs build` first", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    failed = False
    try:
        for name, page in PAGES.items():
            with tempfile.TemporaryDirectory() as profile:
                dom = chromium(args.chromium, profile, "--virtual-time-budget=10000", "--dump-dom", base + page)
            count = re.search(r'data-images="(\d+)"', dom)
            broken = re.search(r'data-broken-images="([^"]*)"', dom)
            if not count or not broken:
                print(f"{name}: the image check did not run (no load event?)", file=sys.stderr)
                failed = True
                continue
            bad = broken.group(1).replace("&quot;", '"')
            with tempfile.TemporaryDirectory() as profile:
                png = out / f"{name}.png"
                size = f"--window-size={args.width},{args.height}"
                chromium(args.chromium, profile, size, f"--screenshot={png.resolve()}", base + page)
            ok = bad == "[]" and png.is_file() and png.stat().st_size > 0
            print(f"{name}: {count.group(1)} images, broken {bad}; screenshot {png}")
            failed |= not ok
    finally:
        server.shutdown()
    if Handler.missing:
        print(f"not found: {', '.join(sorted(set(Handler.missing)))}", file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
