"""The third round of careless and faulty use, one regression test per reported example: outputs
checked before any work (vgan.runs.outputs), non-finite results refused, torch's failed writes
mapped, bounded loops, advice that works, keys and options that do nothing refused, and the
scripts in benchmarks/ and the records renderer held to the command line's contract. The fuzz
harness for the scripts and the renderer is at the end."""

import importlib
import importlib.util
import math
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import TINY, with_keys
from vgan.cli import main

ROOT = Path(__file__).resolve().parents[2]


def script(name):
    """benchmarks/<name>.py as a module (its main(argv) and the functions it runs)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "error:" in err, err
    assert all(w in err for w in words), err
    return err


@pytest.fixture
def run(trained_run, tmp_path):
    shutil.copytree(trained_run, tmp_path / "run")
    return tmp_path / "run"


# ---- 1. outputs are checked before they are written -------------------------------------------
def test_a_record_over_the_checkpoint_is_refused_before_any_work(run, capsys, monkeypatch):
    evaluate = importlib.import_module("vgan.evaluation.evaluate")  # the module, not the function

    monkeypatch.setattr(evaluate, "load_run", lambda *a, **k: pytest.fail("the measurement started"))
    before = (run / "last.pt").read_bytes()
    assert main(["evaluate", str(run), "--record", str(run / "last.pt")]) == 2
    one_line_error(capsys, "does not end in .json")
    assert main(["evaluate", str(run), "--record", str(run / "evaluate.json")]) == 2
    one_line_error(capsys, "a file that training keeps")
    assert (run / "last.pt").read_bytes() == before


@pytest.mark.parametrize(
    "target, words",
    [("/proc/vgan.json", ["cannot write into /proc"]), ("{tmp}/notes.txt/x.json", ["is not a folder"])],
)
def test_an_unwritable_record_is_refused_before_any_work(run, tmp_path, capsys, monkeypatch, target, words):
    evaluate = importlib.import_module("vgan.evaluation.evaluate")  # the module, not the function

    (tmp_path / "notes.txt").write_text("precious")
    monkeypatch.setattr(evaluate, "load_run", lambda *a, **k: pytest.fail("the measurement started"))
    assert main(["evaluate", str(run), "--record", target.format(tmp=tmp_path)]) == 2
    one_line_error(capsys, *words)


def test_the_renderer_writes_no_page_through_a_link_and_writes_pages_atomically(tmp_path, capsys):
    from vgan.records.__main__ import main as render

    (tmp_path / "results" / "tables").mkdir(parents=True)
    (tmp_path / "results" / "tables" / "t.yaml").write_text("x: {text: 'one'}\n")
    (tmp_path / "elsewhere.md").write_text("<!-- records:x --><!-- /records -->\n")
    (tmp_path / "README.md").symlink_to(tmp_path / "elsewhere.md")
    assert render(["render", "--repo", str(tmp_path)]) == 2
    one_line_error(capsys, "symbolic link")
    (tmp_path / "README.md").unlink()
    (tmp_path / "README.md").write_text("<!-- records:x --><!-- /records -->\n")
    assert render(["render", "--repo", str(tmp_path)]) == 0
    assert (tmp_path / "README.md").read_text() == "<!-- records:x -->one<!-- /records -->\n"
    assert not list(tmp_path.glob(".README.md.*"))  # the temporary file was renamed, not left


# ---- 3. benchmarks/ and the renderer keep the command line's contract ---------------------------
def test_budget_refuses_zero_iterations_in_one_line(capsys):
    budget = script("budget")
    from vgan.cli.script import run as run_script

    assert run_script(lambda: budget.main(["toy25", "--iters", "0"]), prog="budget.py") == 2
    one_line_error(capsys, "--iters", "[1, 100000]")


def test_a_sweep_whose_points_all_failed_exits_1_and_runs_them_again(tmp_path, monkeypatch, capsys):
    sweep = script("sweep")
    calls = []
    monkeypatch.setattr(sweep, "vgan", lambda argv: calls.append(argv) or 2)  # every training fails
    args = ["toy25_vgan", "--grid", "lr=0.1,0.01", "--metrics", "modes", "--out-dir", str(tmp_path)]
    assert sweep.main(args) == 1 and len(calls) == 2
    assert sweep.main(args) == 1 and len(calls) == 4  # failed points are not lost: they run again
    assert "2 point(s) failed" in capsys.readouterr().out


def test_a_sweep_table_of_the_wrong_shape_is_one_line(tmp_path, capsys):
    from vgan.cli.script import run as run_script

    sweep = script("sweep")
    (tmp_path / "toy25_vgan.json").write_text('{"rows": 3}')
    args = ["toy25_vgan", "--grid", "lr=0.1", "--metrics", "modes", "--out-dir", str(tmp_path)]
    assert run_script(lambda: sweep.main(args), prog="sweep.py") == 2
    one_line_error(capsys, "does not hold the sweep's rows")
    assert run_script(lambda: sweep.main([*args[:2], "lr=", *args[3:]]), prog="sweep.py") == 2
    one_line_error(capsys, "is not KEY=V1,V2")


@pytest.mark.parametrize("spec", ["- a list\n", "x: [1, 2]\n", "x: {rows: 3, header: [a], cells: [b]}\n", "x: {"])
def test_a_spec_of_the_wrong_shape_is_one_line(tmp_path, capsys, spec):
    from vgan.records.__main__ import main as render

    (tmp_path / "results" / "tables").mkdir(parents=True)
    (tmp_path / "results" / "tables" / "t.yaml").write_text(spec)
    (tmp_path / "README.md").write_text("<!-- records:x --><!-- /records -->\n")
    assert render(["render", "--check", "--repo", str(tmp_path)]) == 2
    one_line_error(capsys)


def test_augment_refuses_a_dataset_of_another_number_of_classes(capsys):
    assert main(["augment", "--dataset", "stackedmnist", "--epochs", "1"]) == 2
    one_line_error(capsys, "1000 classes", "10")


# ---- 4. non-finite values never reach an output ----------------------------------------------
def test_chain_refuses_chains_that_went_non_finite(run, capsys, monkeypatch):
    from vgan.model import mcmc

    def exploding(energy, x, **kwargs):  # what chains on an energy that blew up end in
        return torch.full_like(x, math.nan), {}

    monkeypatch.setattr(mcmc, "langevin", exploding)
    assert main(["chain", str(run), "--langevin-steps", "2", "--steps", "2", "--n", "3"]) == 2
    one_line_error(capsys, "NaN or inf")
    assert not (run / "chain.png").exists()


def test_evaluate_refuses_a_non_finite_likelihood(run, capsys, monkeypatch):
    evaluate = importlib.import_module("vgan.evaluation.evaluate")  # the module, not the function

    monkeypatch.setattr(evaluate, "test_log_likelihood", lambda *a, **k: {"loglik_nats": math.nan})
    assert main(["evaluate", str(run), "--metrics", "loglik"]) == 2
    one_line_error(capsys, "loglik_nats", "NaN or inf")
    assert not (run / "evaluate.json").exists()


# ---- 5. torch's own write errors are mapped ----------------------------------------------------
def test_a_checkpoint_write_that_fails_part_way_is_one_line(tiny, tmp_path, capsys, monkeypatch):
    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", full_disk)
    assert main(["train", *with_keys(tiny, "name=full", "max_steps=3")]) == 2
    one_line_error(capsys, "the write stopped part way", "disk full")
    assert not (tmp_path / "full" / "last.pt").exists()


# ---- 6. every count that drives a loop is bounded ----------------------------------------------
def test_a_huge_langevin_steps_is_refused_at_once(tiny, capsys):
    assert main(["train", *with_keys(tiny, "objective=cd", f"langevin_steps={2**63 - 1}")]) == 2
    one_line_error(capsys, "'langevin_steps' must be in [1, 10000]")


# ---- 7. advice that, followed, works ------------------------------------------------------------
@pytest.mark.slow
def test_each_piece_of_resume_advice_followed_works(tiny, tmp_path, capsys):
    cd = ["objective=cd", "energy=scalar", "langevin_steps=2", "buffer_size=100", "name=cd", "max_steps=2"]
    cd += ["epochs=10", "ckpt_every=1"]
    assert main(["train", *with_keys(tiny, *cd)]) == 0
    run = str(tmp_path / "cd")
    assert main(["train", "--resume", run, "batch_size=150", "max_steps=4"]) == 2
    one_line_error(capsys, "keep batch_size at or below 100")
    assert main(["train", "--resume", run, "batch_size=100", "max_steps=4"]) == 0  # the advice, followed
    assert main(["train", "--resume", run, "max_steps=4"]) == 2
    one_line_error(capsys, "nothing to do; raise epochs= or max_steps=")
    assert main(["train", "--resume", run, "max_steps=5"]) == 0
    assert main(["train", "--resume", run, "energy=multimodal", "max_steps=6"]) == 2
    one_line_error(capsys, "drop energy=")
    assert main(["train", "--resume", run, "max_steps=6"]) == 0
    (tmp_path / "cd" / "last.pt").rename(tmp_path / "cd" / "moved.pt")
    assert main(["train", "--resume", run, "max_steps=7"]) == 2
    err = one_line_error(capsys, "copy epoch_")
    kept = err.split("copy ")[1].split(" ")[0]
    shutil.copy(tmp_path / "cd" / kept, tmp_path / "cd" / "last.pt")
    assert main(["train", "--resume", run, "max_steps=7"]) == 0


# ---- 8. keys and options that do nothing are refused ---------------------------------------------
@pytest.mark.parametrize(
    "keys, words",
    [
        (["objective=cd", "z_dim=4"], ["z_dim has no effect with objective 'cd'", "objective=vgan"]),
        (["rho=0.5"], ["rho has no effect with objective 'vgan'", "objective=vcd"]),
        (["objective=cd", "gen_hidden=64"], ["gen_hidden has no effect with objective 'cd'"]),
    ],
)
def test_keys_no_chosen_part_reads_are_refused(tiny, capsys, keys, words):
    common = [k for k in TINY if not k.startswith(("gen_hidden=", "z_dim=", "experts="))]
    assert main(["train", *common, *keys]) == 2
    one_line_error(capsys, *words)


def test_langevin_steps_with_no_augment_are_refused(run, capsys):
    assert main(["augment", str(run), "--no-augment", "--langevin-steps", "3", "--epochs", "1"]) == 2
    one_line_error(capsys, "--no-augment")


# ---- the harness, extended to the scripts and the renderer ---------------------------------------
COUNTS = st.one_of(st.integers(-5, 5), st.sampled_from([2**63, 10**9, -(2**63)]), st.text(max_size=6))
PATHS = st.one_of(
    st.sampled_from(["", ".", "/", "/proc/x.json", "/dev/null", "x.txt", "a/b/c.json", "ok.json", "x" * 300 + ".json"]),
    st.text(max_size=12),
)


@pytest.mark.slow
@settings(max_examples=settings.default.max_examples * 3)
@given(iters=COUNTS, rounds=COUNTS, record=PATHS, json_out=PATHS)
def test_the_budget_script_succeeds_or_refuses_in_one_line(iters, rounds, record, json_out):
    """Every argument of benchmarks/budget.py is checked before work: with the work itself stubbed,
    any argument list ends in exit 0, or 2 with one line, and no traceback."""
    import contextlib
    import io
    import os
    import tempfile

    from vgan.cli.script import run as run_script

    budget = script("budget")
    budget.budget = lambda *a, **k: {"reference": "r", "reference_steps": 1, "budget_seconds": 1.0, "presets": {}}
    budget.record_benchmark = lambda *a, **k: None
    argv = ["toy25", "--iters", str(iters), "--rounds", str(rounds), "--record", record, "--json", json_out]
    err, out = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                status = run_script(lambda: budget.main(argv), prog="budget.py")
        finally:
            os.chdir(cwd)
    text = err.getvalue()
    assert status in (0, 2) and "Traceback" not in text, text
    assert status == 0 or text.count("\n") == 1, text


@pytest.mark.slow
@settings(max_examples=settings.default.max_examples * 3)
@given(
    spec=st.recursive(
        st.one_of(st.none(), st.integers(), st.text(max_size=8)),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(["text", "rows", "cells", "header", "record", "figure", "keys"]), c, max_size=3
            )
        ),
        max_leaves=8,
    )
)
def test_the_renderer_renders_or_refuses_any_spec_in_one_line(spec):
    import contextlib
    import io
    import tempfile

    import yaml

    from vgan.records.__main__ import main as render

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "results" / "tables").mkdir(parents=True)
        (tmp / "results" / "tables" / "t.yaml").write_text(yaml.safe_dump({"x": spec}))
        (tmp / "README.md").write_text("<!-- records:x --><!-- /records -->\n")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = render(["render", "--check", "--repo", str(tmp)])
    text = err.getvalue()
    assert status in (0, 1, 2) and "Traceback" not in text, text
    assert status != 2 or text.count("\n") == 1, text
