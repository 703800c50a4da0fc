"""vgan._utils.atomic: a write either replaces the file whole or leaves the old one."""

import pytest
import torch

from vgan._utils.atomic import atomic_path, write_atomic
from vgan.runs.checkpoint import load_checkpoint, save_checkpoint


def test_write_atomic_replaces_text_and_bytes(tmp_path):
    path = tmp_path / "sub" / "result.json"
    write_atomic(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    write_atomic(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in path.parent.iterdir()) == ["result.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"step": 1}, path)
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_bytes(b"half a checkpoint")
        raise RuntimeError("crash while writing")
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]

    class Unsaveable:  # torch.save fails part way through the file
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError):
        save_checkpoint({"step": 2, "w": torch.ones(3), "bad": Unsaveable()}, path)
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.parametrize("planted", ["last.pt.tmp", ".last.pt.tmp"])
def test_a_planted_temp_symlink_cannot_redirect_the_write(tmp_path, planted):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / planted).symlink_to(outside)
    save_checkpoint({"step": 3}, run / "last.pt")
    assert outside.read_text() == "precious"
    assert not (run / "last.pt").is_symlink() and load_checkpoint(run / "last.pt")["step"] == 3
    assert sorted(p.name for p in run.iterdir()) == sorted(["last.pt", planted])  # no temp file left


def test_a_symlink_at_the_target_is_replaced_not_written_through(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    (tmp_path / "metrics.json").symlink_to(outside)
    write_atomic(tmp_path / "metrics.json", "new")
    assert outside.read_text() == "precious" and not (tmp_path / "metrics.json").is_symlink()


def test_new_files_get_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    assert (write_atomic(tmp_path / "a.txt", "x").stat().st_mode & 0o777) == 0o666 & ~mask


def test_writing_over_a_folder_is_a_one_line_error(tmp_path):
    from vgan._utils.errors import RunDirError

    (tmp_path / "out.png").mkdir()
    with pytest.raises(RunDirError, match="it is a folder; name a file"):
        write_atomic(tmp_path / "out.png", b"png")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match=r"cannot write .*file/a.txt .*not a folder") as info:
        write_atomic(tmp_path / "file" / "a.txt", b"x")
    assert "\n" not in str(info.value)
