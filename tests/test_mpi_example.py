"""examples/data_parallel.py, shortened, under mpiexec: two ranks reach the
accuracy of one rank trained on the same global batch; the README's Python
example is the text of tests/mpi/readme_snippet.py, which runs on 2 ranks; and
CI (.ci/run, the README's test command) installs the [dist] extra."""
import os
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same module, as tomli
    import tomli as tomllib

from mpi.launch import check_ok, mpiexec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "data_parallel.py")
SNIPPET = os.path.join(ROOT, "tests", "mpi", "readme_snippet.py")
HEADING = "## Data-parallel training over MPI\n"


def readme_section():
    """The README's MPI section, from its heading to the next '## ' heading."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.find(HEADING)
    assert start >= 0, f"README.md has no {HEADING.strip()!r} section"
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def held_out(n, steps=300):
    out = check_ok(mpiexec(os.path.abspath(EXAMPLE), n, "--steps", steps, timeout=90))
    m = re.search(rf"^{n} ranks, {steps} steps .* held-out accuracy ([0-9.]+)$", out, re.M)
    assert m, out
    return float(m.group(1))


def test_two_ranks_reach_the_single_process_accuracy():
    one, two = held_out(1), held_out(2)
    assert one > 0.85, one  # the short single-process run learns (about 0.90)
    assert two >= one - 0.02, (one, two)


def test_readme_snippet_runs_on_two_ranks():
    out = check_ok(mpiexec("readme_snippet.py", 2, timeout=60))
    assert re.search(r"^2 ranks, loss [0-9.]+$", out, re.M), out


def test_readme_python_example_is_the_tested_snippet():
    blocks = re.findall(r"```python\n(.*?)```", readme_section(), re.S)
    assert len(blocks) == 1, f"expected one python block in the MPI section, found {len(blocks)}"
    with open(SNIPPET, encoding="utf-8") as f:
        assert blocks[0] == f.read(), \
            "the README's MPI example differs from tests/mpi/readme_snippet.py"


def test_readme_commands_name_files_that_exist():
    section = readme_section()
    assert "<!-- section: mpi" not in section, "the marker line is still there"
    for command in ('pip install ".[dist]"', "mpiexec -n 2 python examples/data_parallel.py",
                    "mpiexec -f hostfile -n 4", "python benchmarks/scaling.py"):
        assert command in section, command
    for path in re.findall(r"\b((?:examples|benchmarks|tests)/[\w/]+\.py)", section):
        assert os.path.exists(os.path.join(ROOT, path)), path


def test_ci_installs_the_dist_extra():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    assert {re.split(r"[<>=]", r)[0] for r in extras["dist"]} == {"mpi4py", "mpich"}
    test_extra = [r for r in extras["test"] if r.startswith("nablite[")]
    assert any("dist" in re.split(r"[\[\],]", r) for r in test_extra), extras["test"]
    # .ci/run runs the README quick start's second command: it must install [test]
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        quick = f.read().split("## Quick start", 1)[1]
    test_cmd = quick.split("```", 2)[1].splitlines()[2]
    assert 'pip install ".[test]"' in test_cmd and "pytest" in test_cmd, test_cmd
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        assert "## Quick start" in f.read()
