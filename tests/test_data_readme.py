"""The Python blocks of the README's "Data" section (or of its draft in
/tmp/readme_parts/11_data.md before the README carries it) run as written."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _blocks():
    for path in (os.path.join(ROOT, "README.md"), "/tmp/readme_parts/11_data.md"):
        if not os.path.exists(path):
            continue
        with open(path) as f:
            text = f.read()
        start = text.find("## Data\n")
        if start < 0:
            continue
        end = text.find("\n## ", start + 1)
        section = text[start:end if end > 0 else None]
        blocks = re.findall(r"```python\n(.*?)```", section, re.S)
        if blocks:
            return blocks
    return []


@pytest.mark.parametrize("k", range(3))
def test_readme_data_block(k, tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    blocks = _blocks()
    if len(blocks) <= k:
        pytest.skip("the README has no such block in its 'Data' section")
    monkeypatch.setenv("NABLITE_DATA_HOME", str(tmp_path / "home"))  # restored after
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[k], f"README: Data, block {k}", "exec"), {"__name__": "readme"})
