"""Run function cases in the real NNabla 1.39 (a separate Python 3.10 environment)
and compare with nablite, in float32. Tests using this skip when NNabla is absent.

Set NNABLA_PYTHON to that environment's interpreter (default /tmp/nnref/bin/python).
"""
import json
import os
import subprocess

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F

NNABLA_PYTHON = os.environ.get("NNABLA_PYTHON", "/tmp/nnref/bin/python")

_SCRIPT = r"""
import json, sys, numpy as np
import nnabla as nn, nnabla.functions as F
out = []
for name, inputs, kwargs, need in json.loads(sys.stdin.read()):
    try:
        xs = [nn.Variable.from_numpy_array(np.array(a, dtype=np.float32), need_grad=i in need)
              for i, a in enumerate(inputs)]
        y = getattr(F, name)(*xs, **kwargs)
        y.forward()
        grads = []
        if need:
            gy = np.asarray(np.random.RandomState(0).randn(*y.shape), dtype=np.float32)
            for x in xs:
                x.g = 0
            y.backward(gy)
            grads = [xs[i].g.tolist() for i in need]
        out.append({"y": y.d.tolist(), "grads": grads})
    except Exception as e:
        out.append({"error": str(e).strip().splitlines()[-1]})
print(json.dumps(out))
"""


def _run_nablite(name, inputs, kwargs, need):
    xs = [nn.Variable.from_numpy_array(np.array(a, dtype=np.float32), need_grad=i in need)
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
    return y.d.copy(), grads


def check_parity(cases, rtol=1e-5, atol=1e-6, grad_rtol=1e-4, grad_atol=1e-5):
    """cases: (function name, list of input arrays, kwargs, indices needing a gradient).

    Cases NNabla rejects (nablite accepts more, e.g. numpy broadcasting across
    ranks) are skipped. Returns the number of cases compared.
    """
    payload = [(name, [np.asarray(a, dtype=np.float64).tolist() for a in inputs],
                {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
                list(need)) for name, inputs, kwargs, need in cases]
    results = nnabla_output(_SCRIPT, payload)
    compared = 0
    for (name, inputs, kwargs, need), want in zip(cases, results):
        if "error" in want:
            continue
        y, grads = _run_nablite(name, inputs, kwargs, need)
        where = f"{name}(shapes={[np.shape(a) for a in inputs]}, {kwargs})"
        np.testing.assert_allclose(y, np.array(want["y"], dtype=np.float32), rtol=rtol,
                                   atol=atol, err_msg=f"forward of {where}")
        for i, g, w in zip(need, grads, want["grads"]):
            np.testing.assert_allclose(g, np.array(w, dtype=np.float32), rtol=grad_rtol,
                                       atol=grad_atol, err_msg=f"gradient {i} of {where}")
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
