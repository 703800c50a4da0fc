"""The README's Python quick start runs as printed."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_the_readme_python_quick_start_runs(tmp_path, monkeypatch):
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert "vgan.train(" in block
    monkeypatch.chdir(tmp_path)  # it writes runs/toy25_vgan/ under the working folder
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["x"].shape == (16, 2) and namespace["e"].shape == (16,)
    assert (tmp_path / "runs" / "toy25_vgan" / "curves.png").is_file()
