"""Bad input, part 1: hostile files execute nothing, writes stay inside the run directory, and
runs are never mixed or overwritten. Each case runs the real CLI and asserts exit status 2, one
line `vgan: error: ...` naming the problem, no traceback, and no side effect: every file under
the working folder (the runs, the planted files) byte-identical, the data cache unchanged, no
marker file from a crafted pickle (badinput.World.refused). Part 2: test_bad_input_values.py."""

import gzip
import shutil

import numpy as np
import pytest

from badinput import Marker, object_npy

# ---- 1. untrusted files execute nothing -----------------------------------------------------------


def crafted_cifar(w):
    return w.cifar_batches(lambda m: Marker(m))


def verify_crafted_cifar(w):
    return ["data", "verify", "cifar10", "--data-dir", crafted_cifar(w)], "MD5"


def train_on_crafted_cifar(w):
    return w.train("dataset=cifar10", "--data-dir", crafted_cifar(w)), "MD5"


def probe_received_run(w):  # a run someone sent, whose config names a hostile data_dir
    run = w.fake_run("received", (3, 32, 32), dataset="cifar10", data_dir=str(crafted_cifar(w)))
    return ["probe", run], "MD5"


def unpickler_stops_code(w):  # the MD5s made to match: the restricted unpickler is what stops it
    root = crafted_cifar(w)
    w.trust_cifar_batches(root)
    return ["data", "verify", "cifar10", "--data-dir", root], "names posix.system, which is not data"


def unpickler_stops_nested_code(w):
    root = w.cifar_batches(lambda m: {b"data": np.zeros((2, 3072), np.uint8), b"labels": [Marker(m)] * 2})
    w.trust_cifar_batches(root)
    return w.train("dataset=cifar10", "--data-dir", root), "names posix.system"


def unpickler_refuses_object_arrays(w):
    root = w.cifar_batches(lambda m: {b"data": np.array([[1, "x"]], dtype=object), b"labels": [1]})
    w.trust_cifar_batches(root)
    return ["data", "verify", "cifar10", "--data-dir", root], "object array"


def cached_npy_with_code(w):
    cache = w.root / "cache"
    w.monkeypatch.setenv("VGAN_DATA", str(cache))
    for key in ("x_train", "y_train", "x_test", "y_test"):
        w.file(f"cache/cifar10/{key}.npy", object_npy(w.marker))
    return ["data", "verify", "cifar10"], "is not a plain .npy array"


def checkpoint_with_code(w):
    import pickle

    (w.run / "last.pt").write_bytes(pickle.dumps(Marker(w.marker)))
    return ["sample", w.run], "truncated or not a checkpoint"


def yaml_with_code(w):
    path = w.file("evil.yaml", f'lr: !!python/object/apply:os.system ["touch {w.marker}"]\n')
    return ["train", "--config", path], "is not valid YAML"


def gzip_bomb(w):
    from vgan.data import sources

    w.monkeypatch.setattr(sources, "MAX_BYTES", 1 << 20)  # what 256 MiB is to the real files
    raw = w.root / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\0\0\x08\x01\0\0\0\0")
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(4 << 20)))
    return ["data", "verify", "mnist", "--data-dir", w.root / "mnist"], "expands to more than 1 MiB"


# ---- 2. writes stay inside the run directory ----------------------------------------------------


def name_case(name):
    return lambda w: (w.train(f"name={name}"), "'name' must be a plain folder name")


def out_dir_is_a_file(w):
    w.file("afile", "not a folder")
    return w.train("out_dir=afile", "name=x"), "a part of the path is a file"


def run_file_is_a_symlink(w):
    outside = w.file("outside.txt", "precious")
    (w.run / "metrics.jsonl").unlink()
    (w.run / "metrics.jsonl").symlink_to(outside)
    return ["train", "--resume", w.run, "epochs=3"], "metrics.jsonl is a symbolic link"


def samples_folder_is_a_symlink(w):
    (w.root / "elsewhere").mkdir()
    shutil.rmtree(w.run / "samples")
    (w.run / "samples").symlink_to(w.root / "elsewhere")
    return ["train", "--resume", w.run, "epochs=3"], "samples is a symbolic link"


def sample_out_is_a_folder(w):
    (w.root / "grids").mkdir()
    return ["sample", w.run, "--out", w.root / "grids"], "it is a folder; name a file"


# ---- 3. runs are never mixed or overwritten ---------------------------------------------------


def new_run_over(*remove):
    def case(w):
        for name in remove:
            path = w.run / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return w.train("name=run"), "already holds a run"

    return case


def run_in_use(w):
    from vgan.runs.lock import RunLock

    lock = RunLock(w.run, resume=True).__enter__()  # as a trainer holds it
    w.monkeypatch.setattr(w, "held", lock, raising=False)
    return ["train", "--resume", w.run, "epochs=3"], "is in use by another vgan train (pid"


def last_moved_aside(w):  # what the corrupt-checkpoint message advises, before copying epoch_002.pt
    (w.run / "last.pt").rename(w.root / "last.pt.bad")
    return ["train", "--resume", w.run, "epochs=3"], "copy epoch_002.pt to last.pt"


CASES = {
    "verify-crafted-cifar": verify_crafted_cifar,
    "train-on-crafted-cifar": train_on_crafted_cifar,
    "probe-received-run": probe_received_run,
    "unpickler-stops-code": unpickler_stops_code,
    "unpickler-stops-nested-code": unpickler_stops_nested_code,
    "unpickler-refuses-object-arrays": unpickler_refuses_object_arrays,
    "cached-npy-with-code": cached_npy_with_code,
    "checkpoint-with-code": checkpoint_with_code,
    "yaml-with-code": yaml_with_code,
    "gzip-bomb": gzip_bomb,
    "name-parent": name_case("../x"),
    "name-absolute": name_case("/tmp/vgan-outside"),
    "name-dot": name_case("."),
    "name-dotdot": name_case(".."),
    "name-empty": name_case("''"),
    "name-nested": name_case("a/b"),
    "out-dir-is-a-file": out_dir_is_a_file,
    "run-file-is-a-symlink": run_file_is_a_symlink,
    "samples-folder-is-a-symlink": samples_folder_is_a_symlink,
    "sample-out-is-a-folder": sample_out_is_a_folder,
    "new-run-over-a-run": new_run_over(),
    "new-run-after-deleting-last-pt": new_run_over("last.pt"),
    "new-run-over-metrics-only": new_run_over("last.pt", "epoch_002.pt", "config.yaml", "samples", "tb"),
    "new-run-over-epochs-only": new_run_over("last.pt", "metrics.jsonl", "config.yaml", "samples", "tb"),
    "new-run-over-config-only": new_run_over("last.pt", "epoch_002.pt", "metrics.jsonl", "samples", "tb"),
    "new-run-over-samples-only": new_run_over("last.pt", "epoch_002.pt", "metrics.jsonl", "config.yaml", "tb"),
    "run-in-use": run_in_use,
    "resume-without-last-pt": last_moved_aside,
    "resume-with-config": lambda w: (["train", "--resume", w.run, "--config", "x.yaml"], "drop --config"),
    "dry-run-resume": lambda w: (["train", "--dry-run", "--resume", w.run], "cannot --resume"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_refused_without_side_effects(world, case, capsys):
    args, message = case(world)
    try:
        world.refused(args, message, capsys)
    finally:
        if hasattr(world, "held"):
            world.held.release()


def test_a_new_run_that_fails_leaves_no_directory(world, capsys):
    world.refused(world.train("name=fresh", "dataset=cifar10", "--data-dir", crafted_cifar(world)), "MD5", capsys)
    assert not (world.runs / "fresh").exists()
