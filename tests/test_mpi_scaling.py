"""benchmarks/scaling.py on 1 and 2 ranks (W7 only, one run): it reports
steps/s, the efficiency against one rank and the communication time per step,
with the same BLAS threads per rank at both rank counts."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_scaling_reports_steps_efficiency_and_comm_time(tmp_path):
    if importlib.util.find_spec("mpi4py") is None or shutil.which("mpiexec") is None:
        pytest.skip('mpi4py or mpiexec is missing (pip install "nablite[dist]")')
    out = tmp_path / "scaling.json"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "scaling.py"),
                        "--ranks", "1,2", "--workloads", "W7", "--modes", "after",
                        "--repeat", "1", "--threads", "1", "--json", str(out)],
                       capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    row = r"^\| W7 \| after \| (\d) \| ([0-9.]+) \| (\d+) \| ([0-9.]+) \| ([0-9.]+) \|$"
    rows = re.findall(row, p.stdout, re.M)
    assert [r[0] for r in rows] == ["1", "2"], p.stdout
    assert rows[0][3] == "1.00"
    result = json.loads(out.read_text())
    assert result["threads_per_rank"] == 1 and result["repeat"] == 1
    one, two = (result["runs"][n]["W7/after"] for n in ("1", "2"))
    assert one["steps_per_s"] > 0 and two["steps_per_s"] > 0
    assert float(rows[1][3]) == pytest.approx(two["steps_per_s"] / one["steps_per_s"], abs=0.01)
    assert two["comm_ms_per_step"] > 0 and two["batch_per_rank"] == 256
    assert "--hostfile" in p.stdout and "--ranks 1,2,4,8" in p.stdout
