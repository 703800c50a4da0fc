"""One record over seeds from the records of each seed: every number per seed, its mean and sd.

    python benchmarks/summary.py RECORD.json [RECORD.json ...] --record OUT.json

For measurements made one seed at a time (e.g. `vgan evaluate RUN --record ...` on runs of seeds
0, 1, 2), the summary that `benchmarks/sweep.py` writes for its own points: `key.seedN`,
`key.mean` and `key.sd` for every number the records share, with the first record's config,
scale and machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vgan._utils.errors import VGANError
from vgan.cli.script import Parser, output, run
from vgan.records import make_record, over_seeds, write_record


def summarise(paths: list) -> dict:
    records = []
    for path in paths:
        try:
            records.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as e:
            raise VGANError(f"{path} is not a readable record ({e}); name the records of each seed") from None
    seeds = [(r.get("config") or {}).get("seed", 0) for r in records]  # a record's config lists seed when not 0
    values = over_seeds(seeds, [r["values"] for r in records])
    first = records[0]
    command = "python benchmarks/summary.py " + " ".join(str(p) for p in paths)
    return make_record(
        first["kind"],
        values,
        command=command,
        scale=f"{first['scale']}, seeds {values['seeds']}",
        config=first.get("config"),
    )


def main(argv=None) -> None:
    parser = Parser(prog="python benchmarks/summary.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("records", nargs="+", help="the records of each seed")
    parser.add_argument("--record", metavar="PATH", required=True, type=output(".json"), help="the summary to write")
    args = parser.parse_args(argv)
    write_record(summarise(args.records), args.record)
    print(f"wrote {args.record}")


if __name__ == "__main__":
    sys.exit(run(main, prog="summary.py"))
