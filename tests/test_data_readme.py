"""The Python blocks of the README's "Data" section run as written, offline, in
a temporary folder with NABLITE_DATA_HOME set there."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_BLOCKS = 4


def _blocks():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.find("\n## Data\n")
    assert start >= 0, "README.md has no '## Data' section"
    end = text.find("\n## ", start + 1)
    section = text[start:end if end > 0 else None]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_data_section_has_its_blocks():
    assert len(_blocks()) == N_BLOCKS, "the README's Data section should hold " \
        f"{N_BLOCKS} python blocks (update N_BLOCKS with the README)"


@pytest.mark.parametrize("k", range(N_BLOCKS))
def test_readme_data_block(k, tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    blocks = _blocks()
    assert len(blocks) > k, f"the README's Data section has no python block {k}"
    monkeypatch.setenv("NABLITE_DATA_HOME", str(tmp_path / "home"))  # restored after
    monkeypatch.setenv("NABLITE_DOWNLOAD_TIMEOUT", "2")  # nothing may wait on a network
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[k], f"README: Data, block {k}", "exec"), {"__name__": "readme"})
