"""Records (vgan.records) and the docs rendered from them (vgan.records.render)."""

import json
from pathlib import Path

import pytest

from vgan.config import Config
from vgan.records import (
    RecordError,
    config_hash,
    flatten,
    load_records,
    make_record,
    validate_record,
    write_record,
)
from vgan.records.__main__ import main
from vgan.records.render import render_page, render_repo

REPO = Path(__file__).resolve().parents[2]
MACHINE = {"cpu": "Test CPU", "threads": 2, "device": "cpu"}


def record(values, **kw):
    return make_record("evaluate", values, command="vgan evaluate runs/x", scale="cpu", machine=MACHINE, **kw)


def test_a_record_holds_the_command_config_machine_date_scale_and_flat_values():
    cfg = Config(name="x", k=1)
    rec = record({"fid": 91.3, "per": {"a": 1}}, config=cfg, date="2026-11-30", notes="seed 0")
    assert rec["schema"] == 1 and rec["kind"] == "evaluate" and rec["command"] == "vgan evaluate runs/x"
    assert rec["values"] == {"fid": 91.3, "per.a": 1} and rec["date"] == "2026-11-30" and rec["notes"] == "seed 0"
    assert rec["config"] == {"name": "x", "dataset": "mnist", "objective": "vgan", "arch": "mlp", "k": 1, "epochs": 10}
    assert rec["config_hash"] == config_hash(cfg.to_dict()) and len(rec["config_hash"]) == 16
    assert config_hash(Config(name="y", out_dir="elsewhere", k=1)) == rec["config_hash"]  # the same model
    assert rec["config_hash"] != config_hash(Config(name="x", k=2))
    assert record({"a": 1})["config_hash"] is None and len(record({"a": 1})["date"]) == 10


def test_per_seed_results_are_keyed_by_seed():
    result = {"test_error_pct": 2.25, "seeds": [0, 2], "per_seed": [{"test_error_pct": 2.3}, {"test_error_pct": 2.2}]}
    assert flatten(result) == {
        "test_error_pct": 2.25,
        "seeds": "0,2",
        "test_error_pct.seed0": 2.3,
        "test_error_pct.seed2": 2.2,
    }


def test_the_machine_comes_from_the_runs_last_session(tmp_path):
    sessions = [{"cpu": "first", "device": "cpu"}, {"cpu": "second", "gpu": "NVIDIA H200", "device": "cuda"}]
    (tmp_path / "run.json").write_text(json.dumps({"sessions": sessions}))
    rec = make_record("probe", {"e": 1.0}, command="c", scale="cpu", run_dir=tmp_path)
    assert rec["machine"]["cpu"] == "second"
    assert make_record("probe", {"e": 1.0}, command="c", scale="cpu")["machine"]["torch"]  # this machine


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.pop("scale"), "lacks scale"),
        (lambda r: r.update(schema=2), "schema 2"),
        (lambda r: r.update(date="30/11/2026"), "not YYYY-MM-DD"),
        (lambda r: r["values"].update(x=[1, 2]), "'x' of type list"),
        (lambda r: r["values"].update(x=float("nan")), "must be finite"),
        (lambda r: r.update(extra=1), "unknown field"),
    ],
)
def test_an_invalid_record_is_refused(change, message):
    rec = record({"a": 1})
    change(rec)
    with pytest.raises(RecordError, match=message):
        validate_record(rec)


def test_records_are_written_and_loaded_by_their_path(tmp_path):
    write_record(record({"a": 1}), tmp_path / "table2" / "gpu" / "baseline.json")
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "specs.yaml").write_text("x: {}\n")  # not a record
    assert list(load_records(tmp_path)) == ["table2/gpu/baseline"]
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(RecordError, match="bad.json is not readable JSON"):
        load_records(tmp_path)


SPECS = {
    "t": {
        "header": ["run", "FID", "paper"],
        "cells": ["{label}", "{r[fid]:.1f}", "{P[table2][mnist][No augmentation]}"],
        "rows": [{"record": "a", "label": "first"}, {"record": "b", "label": "second"}],
    },
    "inline": {"text": "{r[fid]:.2f} on {r.where}", "record": "a"},
}


def test_blocks_are_rendered_from_the_records_and_a_missing_value_is_a_dash(tmp_path):
    records = {"a": record({"fid": 91.34}), "b": record({"kid": 3.0})}
    page = "Intro <!-- records:inline -->old<!-- /records -->.\n\n<!-- records:t -->\nold\n<!-- /records -->\n"
    used = set()
    text, changed = render_page(page, SPECS, records, tmp_path / "p.md", tmp_path, used)
    assert changed == ["inline", "t"] and used == {"inline", "t"}
    assert "Intro <!-- records:inline -->91.34 on Test CPU, 2 threads<!-- /records -->." in text
    assert "| first | 91.3 | 2.2 |\n| second | — | 2.2 |" in text
    assert render_page(text, SPECS, records, tmp_path / "p.md", tmp_path, set())[1] == []  # stable
    quoted = "Mark a block as `<!-- records:NAME -->` ... `<!-- /records -->`."  # prose about markers
    assert render_page(quoted, SPECS, records, tmp_path / "p.md", tmp_path, set()) == (quoted, [])


def test_best_bolds_each_columns_best_number_and_skips_dashes(tmp_path):
    records = {
        "a": record({"fid": 91.34, "modes": 12}),
        "b": record({"fid": 50.4, "modes": 990}),
        "c": record({"kid": 1.0}),
    }
    spec = {
        "header": ["run", "FID", "modes"],
        "cells": ["{label}", "[{r[fid]:.1f}](p.md)", "{r[modes]:,} ± 3"],
        "rows": [{"record": k, "label": k} for k in "abc"],
        "best": {"FID": "min", "modes": "max"},
    }
    text, _ = render_page(
        "<!-- records:t --><!-- /records -->", {"t": spec}, records, tmp_path / "p.md", tmp_path, set()
    )
    assert "| a | [91.3](p.md) | 12 ± 3 |\n| b | **[50.4](p.md)** | **990 ± 3** |\n| c | [—](p.md) | — ± 3 |" in text
    labelled = dict(spec, cells=["{label}", "run-2: {r[fid]:.1e}", "{r[modes]}"], best={"FID": "min"})
    text, _ = render_page(
        "<!-- records:t --><!-- /records -->", {"t": labelled}, records, tmp_path / "p.md", tmp_path, set()
    )
    assert "| b | **run-2: 5.0e+01** |" in text and "| a | run-2: 9.1e+01 |" in text  # not the 2 of run-2
    with pytest.raises(RecordError, match="best names KL: min; name a column"):
        render_page(
            "<!-- records:t --><!-- /records -->",
            {"t": dict(spec, best={"KL": "min"})},
            records,
            tmp_path / "p.md",
            tmp_path,
            set(),
        )


def test_figures_link_their_images_from_the_page_and_a_missing_image_is_an_error(tmp_path):
    (tmp_path / "img").mkdir()
    for n in "ab":
        (tmp_path / "img" / f"{n}.png").write_bytes(b"png")
    records = {n: record({"image": f"img/{n}.png"}) for n in "ab"}
    specs = {
        "one": {"figure": "a", "alt": "A", "caption": "{r[image]}"},
        "two": {"figure": ["a", "b"], "alt": ["A", "B"], "caption": "{r[image]}"},
    }
    page = tmp_path / "docs" / "p.md"
    text, _ = render_page(
        "<!-- records:one --><!-- /records -->\n<!-- records:two --><!-- /records -->",
        specs,
        records,
        page,
        tmp_path,
        set(),
    )
    assert "![A](../img/a.png)\n\n*img/a.png*" in text
    assert "| A | B |\n|---|---|\n| ![A](../img/a.png) | ![B](../img/b.png) |\n\n*img/a.png*" in text
    for bad, problem in (
        (dict(specs["two"], alt="AB"), "both as lists"),
        (dict(specs["two"], figure=["a", "c"]), "record c names no image"),
    ):
        with pytest.raises(RecordError, match=problem):
            render_page(
                "<!-- records:x --><!-- /records -->",
                {"x": bad},
                dict(records, c=record({"fid": 1.0})),
                page,
                tmp_path,
                set(),
            )
    (tmp_path / "img" / "b.png").unlink()
    with pytest.raises(RecordError, match="figure two: .*b.png does not exist"):
        render_page("<!-- records:two --><!-- /records -->", specs, records, page, tmp_path, set())


def test_a_value_no_record_has_and_an_unknown_block_are_errors(tmp_path):
    records = {"a": record({"kid": 1.0}), "b": record({"kid": 3.0})}
    with pytest.raises(RecordError, match="table t reads value\\(s\\) fid, which no record of it has"):
        render_page("<!-- records:t --><!-- /records -->", SPECS, records, tmp_path / "p.md", tmp_path, set())
    with pytest.raises(RecordError, match="marks block nope, which no spec"):
        render_page("<!-- records:nope --><!-- /records -->", SPECS, records, tmp_path / "p.md", tmp_path, set())


def test_check_mode_finds_a_number_edited_by_hand_and_render_fixes_it(tmp_path, capsys):
    write_record(record({"fid": 91.34}), tmp_path / "results" / "a.json")
    write_record(record({"fid": 50.4}), tmp_path / "results" / "b.json")
    (tmp_path / "results" / "tables").mkdir()
    (tmp_path / "results" / "tables" / "t.yaml").write_text(json.dumps({"t": SPECS["t"]}))
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("<!-- records:t -->\n<!-- /records -->\n")
    assert render_repo(tmp_path) == {"docs/page.md": ["t"]}
    assert render_repo(tmp_path, check=True) == {}
    page.write_text(page.read_text().replace("91.3", "91.0"))  # a number typed over
    assert main(["render", "--check", "--repo", str(tmp_path)]) == 1
    assert "differs: docs/page.md: t" in capsys.readouterr().out
    assert main(["render", "--repo", str(tmp_path)]) == 0 and "| first | 91.3 |" in page.read_text()


def test_the_docs_tables_match_the_committed_records():
    """Every number in a marked block of README.md and docs/ is what its records give."""
    assert render_repo(REPO, check=True) == {}, "run `python -m vgan.records render` and commit the result"


def test_every_committed_record_names_its_machine_command_and_scale():
    records = load_records(REPO / "results")
    assert len(records) > 50
    for rid, rec in records.items():
        assert rec["machine"].get("cpu") or rec["machine"].get("gpu"), rid
        text = json.dumps({k: v for k, v in rec.items() if k != "machine"})  # command, scale, config, values
        assert not any(p in text for p in ("/work/", "/root/", "/home/", "/tmp/")), rid


def test_probe_records_its_result_with_the_runs_config_and_machine(trained_run, tmp_path, capsys):
    pytest.importorskip("sklearn")
    from vgan.cli import main as cli

    path = tmp_path / "results" / "table1" / "tiny.json"
    assert cli(["probe", str(trained_run), "--limit", "300", "--record", str(path)]) == 0
    assert f"recorded {path}" in capsys.readouterr().out
    rec = load_records(tmp_path / "results")["table1/tiny"]
    assert (
        rec["kind"] == "probe" and rec["command"] == f"vgan probe runs/{trained_run.name} --limit 300 --record {path}"
    )
    assert rec["scale"] == "MLP networks, k = 3, 2 epochs, first 200 images; probe on 300 images a split"
    assert rec["config"]["hidden"] == 32 and "out_dir" not in rec["config"]  # no local paths
    run = json.loads((trained_run / "run.json").read_text())["sessions"][-1]
    assert rec["machine"] == run and 0 <= rec["values"]["test_error_pct"] <= 100


def test_over_seeds_gives_each_seed_and_the_mean_and_sd_where_every_seed_has_the_value():
    from vgan.records import over_seeds

    rows = [{"seed": 0, "fid": 1.0, "kid": 2.0, "ok": True}, {"seed": 1, "fid": 3.0}, {"seed": 2, "fid": 5.0}]
    values = over_seeds([0, 1, 2], rows, skip=("seed",))
    assert values == {
        "seeds": "0,1,2",
        "fid.seed0": 1.0,
        "fid.seed1": 3.0,
        "fid.seed2": 5.0,
        "fid.mean": 3.0,
        "fid.sd": 2.0,
        "kid.seed0": 2.0,
    }
    assert over_seeds([4], [{"fid": 7.0}]) == {"seeds": "4", "fid.seed4": 7.0, "fid.mean": 7.0, "fid.sd": 0.0}
