"""Run function cases in the real NNabla 1.39 (a separate Python 3.10 environment)
and compare with nablite, in float32. Tests using this skip when NNabla is absent.

Set NNABLA_PYTHON to that environment's interpreter (default /tmp/nnref/bin/python).
"""
import inspect
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F

NNABLA_PYTHON = os.environ.get("NNABLA_PYTHON", "/tmp/nnref/bin/python")

def function_cases(cases):
    """One source for both libraries (run by check_parity through check_same_source's
    runner): each (name, inputs, kwargs, need) case's output and, for the inputs in
    ``need``, gradients for a fixed random output gradient; an error's last line
    where the library rejects the case."""
    out = {}
    for k, (name, inputs, kwargs, need) in enumerate(cases):
        try:
            xs = [nn.Variable.from_numpy_array(np.asarray(a, dtype=np.float32),
                                               need_grad=i in need)
                  for i, a in enumerate(inputs)]
            y = getattr(F, name)(*xs, **kwargs)
            y.forward()
            grads = []
            if need:
                gy = np.asarray(np.random.RandomState(0).randn(*y.shape), dtype=np.float32)
                for x in xs:
                    x.g = 0
                y.backward(gy)
                grads = [xs[i].g.copy() for i in need]
            out[str(k)] = [y.d.copy()] + grads
        except Exception as e:
            out[str(k)] = "error: " + (str(e).strip().splitlines() or [type(e).__name__])[-1]
    return out


def check_parity(cases, rtol=1e-5, atol=1e-6, grad_rtol=1e-4, grad_atol=1e-5):
    """cases: (function name, list of input arrays, kwargs, indices needing a gradient),
    run by ``function_cases`` (one source) in NNabla and in nablite, in float32.

    Cases NNabla rejects (nablite accepts more, e.g. numpy broadcasting across
    ranks) are skipped; a case NNabla runs and nablite rejects fails. Returns the
    number of cases compared.
    """
    if not _nnabla_runs():
        pytest.skip(f"NNabla 1.39 is not available at {NNABLA_PYTHON}")
    payload = [(name, [np.asarray(a, dtype=np.float64) for a in inputs],
                {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
                list(need)) for name, inputs, kwargs, need in cases]
    want = run_source(NNABLA_PYTHON, "nnabla", function_cases, cases=payload)
    mine = run_source(sys.executable, "nablite", function_cases, cases=payload)
    compared = 0
    for k, (name, inputs, kwargs, need) in enumerate(cases):
        w, m = want[str(k)], mine[str(k)]
        if isinstance(w, str):
            continue
        where = f"{name}(shapes={[np.shape(a) for a in inputs]}, {kwargs})"
        assert not isinstance(m, str), f"nablite rejects {where}, NNabla runs it: {m}"
        np.testing.assert_allclose(m[0], w[0], rtol=rtol, atol=atol,
                                   err_msg=f"forward of {where}")
        assert np.shape(m[0]) == np.shape(w[0]), f"output shape of {where}"
        for i, g, gw in zip(need, m[1:], w[1:]):
            np.testing.assert_allclose(g, gw, rtol=grad_rtol, atol=grad_atol,
                                       err_msg=f"gradient {i} of {where}")
        compared += 1
    return compared


def _run(script, payload):
    """The finished NNabla process of ``script``, fed ``payload`` as JSON on stdin."""
    return subprocess.run([NNABLA_PYTHON, "-c", script], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=300)


def nnabla_output(script, payload):
    """Run ``script`` in the real NNabla with ``payload`` (JSON) on stdin and return
    the JSON of its last output line; skips the calling test when NNabla is absent
    or cannot run the script."""
    if not os.path.exists(NNABLA_PYTHON):
        pytest.skip("NNabla 1.39 is not installed (set NNABLA_PYTHON)")
    proc = _run(script, payload)
    if proc.returncode != 0:
        pytest.skip(f"NNabla could not run: {proc.stderr[-300:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_in_nnabla(script, **values):
    """Run ``script`` in the real NNabla with ``values`` bound as globals (JSON
    data) and return the JSON-able ``RESULT`` it sets; None when NNabla is absent."""
    if not os.path.exists(NNABLA_PYTHON):
        return None
    runner = ("import json, sys\nglobals().update(json.loads(sys.stdin.read()))\n" + script
              + "\nprint(json.dumps(RESULT))\n")
    proc = _run(runner, values)
    if proc.returncode != 0:
        raise RuntimeError(f"the NNabla script failed: {proc.stderr[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- one source, both libraries ------------------------------------------------------
def _encode(v, outputs=False):
    """JSON for arrays (and, for ``outputs``, Variables and numbers too), keeping
    strings; lists and dicts element by element."""
    if isinstance(v, str):
        return v
    if hasattr(v, "parent") and hasattr(v, "d"):  # a Variable of either library
        v = v.d
    if isinstance(v, (list, tuple)):
        return [_encode(x, outputs) for x in v]
    if isinstance(v, dict):
        return {k: _encode(x, outputs) for k, x in v.items()}
    if outputs or isinstance(v, (np.ndarray, np.generic)):
        a = np.asarray(v)
        if a.dtype == object:
            raise TypeError(f"cannot compare a {type(v).__name__}")
        return {"__ndarray__": a.ravel().tolist(), "dtype": a.dtype.str, "shape": list(a.shape)}
    return v


def _decode(v):
    if isinstance(v, dict) and "__ndarray__" in v:
        return np.array(v["__ndarray__"], dtype=v["dtype"]).reshape(v["shape"])
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        return {k: _decode(x) for k, x in v.items()}
    return v


# The same runner executes a case in the real NNabla (NNABLA_PYTHON) and in nablite
# (this interpreter, ``import nnabla`` resolved to nablite by nablite.compat), so
# the two computations cannot drift apart.
_SHARED_RUNNER = r"""
import json, sys
if sys.argv[1] == "nablite":
    from nablite import compat
    compat.install()
import numpy as np
import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
assert (nn.__name__ == "nablite") == (sys.argv[1] == "nablite"), nn.__name__
""" + inspect.getsource(_encode) + inspect.getsource(_decode) + r"""
job = json.loads(sys.stdin.read())
values = {k: _decode(v) for k, v in job["values"].items()}
ns = {"nn": nn, "F": F, "PF": PF, "np": np, "__name__": "parity_case"}
if job["call"]:
    exec(compile(job["source"], "<parity case>", "exec"), ns)
    out = ns[job["call"]](**values)
else:
    ns.update(values)
    exec(compile(job["source"], "<parity case>", "exec"), ns)
    out = ns["OUT"]
print(json.dumps({"out": {k: _encode(v, outputs=True) for k, v in out.items()}}))
"""


def _case_source(case):
    """(source, name of the function to call or None) of a case."""
    if isinstance(case, str):
        return textwrap.dedent(case), None
    src = textwrap.dedent(inspect.getsource(case))
    lines = src.splitlines()
    while lines and lines[0].lstrip().startswith("@"):  # decorators stay in the test
        lines.pop(0)
    return "\n".join(lines) + "\n", case.__name__


def run_source(python, library, case, **values):
    """The named outputs of ``case`` run by ``python`` with ``nnabla`` being
    ``library`` ("nnabla" or "nablite")."""
    source, call = _case_source(case)
    payload = {"source": source, "call": call, "values": {k: _encode(v) for k, v in values.items()}}
    proc = subprocess.run([python, "-c", _SHARED_RUNNER, library], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"the case failed under {library}:\n{proc.stderr[-2000:]}")
    return _decode(json.loads(proc.stdout.strip().splitlines()[-1])["out"])


def _nnabla_runs():
    if not os.path.exists(NNABLA_PYTHON):
        return False
    proc = subprocess.run([NNABLA_PYTHON, "-c", "import nnabla.functions, "
                           "nnabla.parametric_functions"], capture_output=True, timeout=120)
    return proc.returncode == 0


def _compare(mine, want, where, rtol, atol, dtypes):
    if isinstance(want, list):
        assert isinstance(mine, list) and len(mine) == len(want), f"{where}: lengths differ"
        for k, (a, b) in enumerate(zip(mine, want)):
            _compare(a, b, f"{where}[{k}]", rtol, atol, dtypes)
        return
    if isinstance(want, dict):
        assert isinstance(mine, dict) and set(mine) == set(want), f"{where}: keys differ"
        for k in want:
            _compare(mine[k], want[k], f"{where}[{k!r}]", rtol, atol, dtypes)
        return
    mine, want = np.asarray(mine), np.asarray(want)
    assert mine.shape == want.shape, f"{where}: shape {mine.shape} != NNabla's {want.shape}"
    if dtypes:
        assert mine.dtype == want.dtype, f"{where}: dtype {mine.dtype} != NNabla's {want.dtype}"
    if want.dtype.kind in "fc" or mine.dtype.kind in "fc":
        np.testing.assert_allclose(mine, want, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=where)
    else:
        np.testing.assert_array_equal(mine, want, err_msg=where)


def check_same_source(case, rtol=1e-5, atol=1e-6, tol=None, dtypes=True, differ=(), **values):
    """Run one case under NNabla and under nablite and compare its named outputs.

    ``case`` is a function (its source is sent; it is called with ``values`` as
    keyword arguments and returns {name: Variable, array or list of them}) or a
    string (run with ``values`` as globals; it sets ``OUT``), written against
    ``nn``, ``F``, ``PF`` and ``np`` (given as globals in both). ``values`` are
    NumPy arrays or JSON data. ``tol`` maps an output name to its (rtol, atol);
    ``dtypes`` also compares the outputs' dtypes; ``differ`` names outputs that
    differ on purpose (the caller asserts how). Skips the calling test when
    NNabla is absent. Returns (nablite's outputs, NNabla's)."""
    if not _nnabla_runs():
        pytest.skip(f"NNabla 1.39 is not available at {NNABLA_PYTHON}")
    want = run_source(NNABLA_PYTHON, "nnabla", case, **values)
    mine = run_source(sys.executable, "nablite", case, **values)
    assert set(mine) == set(want), f"outputs {sorted(mine)} != NNabla's {sorted(want)}"
    for name in set(want) - set(differ):
        r, a = (tol or {}).get(name, (rtol, atol))
        _compare(mine[name], want[name], name, r, a, dtypes)
    return mine, want
