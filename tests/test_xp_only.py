"""Functions compute through ``xp`` only, and copy nothing from the host per forward (#14).

Two static rules, checked on the source of every module of ``nablite/functions``
(ast), inside every ``forward``/``backward`` and every function or lambda with a
parameter named ``xp`` (the helpers those call with their array module):

  - no host call ``np.<name>(...)`` (``numpy``, and any alias or ``from numpy
    import``), nor a host index trick ``np.r_[...]``, except those in ``SAFE``
    (they touch no array) and those listed in ``HOST_CALLS`` / ``HOST_MODULES``
    with their reason;
  - no transfer ``xp.asarray(...)`` (``array``, ``asanyarray``, ...) except
    inside ``node_constant(...)`` (a constant moved once per node and array
    module) or listed in ``TRANSFERS`` with its reason (the host generator's
    draws, the communicator's host buffer, arguments that are arrays of xp).

A failure names file:line. Both allow-lists must stay exact (an entry that no
longer matches fails too), and unit checks on small sources show the rules
can fail. Then, on the simulated device, a counter of host-to-device copies
shows that the functions which kept host constants (index maps, windows,
masks, fill values) copy none in a forward or backward after their first, and
a counter of device values read on the host (each a wait for the device) that
common functions read none, and index checks one.
"""
import ast
import pathlib
import sys

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite import _device_sim as sim
from nablite.functions import _winograd

FUNCTIONS = pathlib.Path(F.__file__).parent
SOURCES = sorted(FUNCTIONS.glob("*.py"))

# NumPy calls that read no array values: dtypes, limits, error state, promotion
SAFE = {"dtype", "finfo", "iinfo", "errstate", "result_type", "promote_types", "can_cast",
        "s_", "index_exp"}
# np.float32(...) and the other scalar types are safe of a literal number only
SCALAR_TYPES = {n for n in dir(np) if isinstance(getattr(np, n), type)
                and issubclass(getattr(np, n), np.generic)}
INDEX_TRICKS = {"r_", "c_", "ogrid", "mgrid", "s_", "index_exp"}
TRANSFER_NAMES = {"asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray"}

_DRAWS = ("the host generator's draws (NNabla's seeded streams), computed on the host "
          "and moved once per forward: the documented exception for random functions")

# (file, function): (NumPy names, why they stay host calls)
HOST_CALLS = {
    ("augmentation.py", "RandomErase.forward"): (
        {"clip", "round", "sqrt"}, "the erase boxes' sizes from " + _DRAWS),
    ("augmentation.py", "ImageAugmentation._geometry"): (
        {"log", "exp", "expm1", "sqrt", "where", "cos", "sin"},
        "the per-image scales, angles, crops and lenses from " + _DRAWS),
    ("augmentation.py", "ImageAugmentation.forward"): (
        {"log", "exp"}, "the per-image contrast gains from " + _DRAWS),
    ("stochastic.py", "_Generator.forward"): ({"asarray"}, "the draw itself: " + _DRAWS),
}
# modules that compute on the host by design, and why device arrays never get there
HOST_MODULES = {
    "_winograd.py": "Convolution's Winograd path (Numba kernels on host memory) runs only "
                    "where _winograd.takes(xp) holds: NumPy arrays (test_winograd_is_host_only)",
}
# (file, function): why its xp.asarray & co stay outside node_constant
TRANSFERS = {
    ("stochastic.py", "_on"): "moves " + _DRAWS,
    ("quantized.py", "_INQ._quantize"): "moves " + _DRAWS + " (INQ's random choice)",
    ("distributed.py", "SyncBatchNormalization._sum_over_group"):
        "the all-reduce's result, back from the communicator's host buffer (one explicit "
        "copy each way, documented there)",
    ("linalg.py", "Einsum.forward"): "not a transfer: einsum's result is an array of xp "
                                     "(NumPy's 0-d result a scalar, made an array)",
    ("reduction.py", "_as_array"): "not a transfer: a reduction's result of xp (NumPy's "
                                   "0-d result a scalar, made an array)",
    ("pooling.py", "AveragePooling._divisor"): "the window counts, made once per module and "
                                               "dtype in its own cache (_div_arrays)",
    ("onnx.py", "ONNXResize._arrays"): "the resize plan, made once per module and dtype in its "
                                       "own cache (_plans)",
}


# -- the rules -------------------------------------------------------------------

def _numpy_aliases(tree):
    """name -> the numpy path it stands for ('numpy', 'numpy.linalg', 'numpy.exp')."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "numpy" or a.name.startswith("numpy."):
                    if a.asname:
                        aliases[a.asname] = a.name
                    else:
                        aliases["numpy"] = "numpy"
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and (
                node.module == "numpy" or node.module.startswith("numpy.")):
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id] + parts[::-1])
    return None


def _numpy_name(node, aliases):
    """'exp' for np.exp, 'linalg.inv' for np.linalg.inv (None: not NumPy's)."""
    dotted = _dotted(node)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    if head not in aliases:
        return None
    full = aliases[head] + ("." + rest if rest else "")
    return full[len("numpy."):] if full.startswith("numpy.") else None


def _literal(node):
    if isinstance(node, ast.UnaryOp):
        return _literal(node.operand)
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool))


def _scanned(tree):
    """(qualified name, node) of the functions the rules read: forward, backward,
    and every def or lambda with a parameter named xp (outermost only: what they
    nest is read with them)."""
    out = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, prefix + [child.name])
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                name = getattr(child, "name", "<lambda>")
                a = child.args
                params = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}
                if name in ("forward", "backward") or "xp" in params:
                    out.append((".".join(prefix + [name]), child))
                else:
                    visit(child, prefix + [name])
            else:
                visit(child, prefix)
    visit(tree, [])
    return out


def _made_once(fn):
    """ids of the nodes inside the arguments of node_constant(...) calls in ``fn``:
    host constants built and moved once per node and array module."""
    inside = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and _dotted(node.func) == "node_constant":
            for arg in node.args:
                inside.update(id(n) for n in ast.walk(arg))
    return inside


def host_calls(source):
    """[(line, function, numpy name)] of the host calls the first rule refuses
    unless listed (SAFE ones, scalar types of a literal and what node_constant
    makes once left out)."""
    tree = ast.parse(source)
    aliases = _numpy_aliases(tree)
    found = []
    for qual, fn in _scanned(tree):
        once = _made_once(fn)
        for node in ast.walk(fn):
            if id(node) in once:
                continue
            if isinstance(node, ast.Call):
                name = _numpy_name(node.func, aliases)
                if name is None or name in SAFE:
                    continue
                if name in SCALAR_TYPES and node.args and all(map(_literal, node.args)):
                    continue
                found.append((node.lineno, qual, name))
            elif isinstance(node, ast.Subscript):
                name = _numpy_name(node.value, aliases)
                if name in INDEX_TRICKS and name not in SAFE:
                    found.append((node.lineno, qual, name))
    return sorted(set(found))


def transfers(source):
    """[(line, function)] of the xp.asarray & co outside a node_constant(...) call."""
    tree = ast.parse(source)
    found = []
    for qual, fn in _scanned(tree):
        inside = _made_once(fn)
        for node in ast.walk(fn):
            if (isinstance(node, ast.Call) and id(node) not in inside
                    and isinstance(node.func, ast.Attribute) and node.func.attr in TRANSFER_NAMES
                    and _dotted(node.func.value) in ("xp", "self.xp")):
                found.append((node.lineno, qual))
    return sorted(set(found))


def _audit():
    """(unlisted host calls, unlisted transfers, allow-list entries used), over functions/."""
    bad_calls, bad_moves, used = [], [], set()
    for path in SOURCES:
        src = path.read_text()
        f = path.name
        for line, qual, name in host_calls(src):
            if f in HOST_MODULES:
                used.add(f)
                continue
            names, _ = HOST_CALLS.get((f, qual), ((), ""))
            if name in names:
                used.add((f, qual, name))
            else:
                call = f"np.{name}[...]" if name in INDEX_TRICKS else f"np.{name}(...)"
                bad_calls.append(f"{f}:{line}: {call} in {qual}")
        for line, qual in transfers(src):
            if (f, qual) in TRANSFERS:
                used.add((f, qual))
            else:
                bad_moves.append(f"{f}:{line}: a host-to-device copy (xp.asarray & co) in "
                                 f"{qual}, outside node_constant")
    return bad_calls, bad_moves, used


def test_functions_compute_through_xp_only():
    bad, _, _ = _audit()
    assert not bad, ("host NumPy calls where functions compute (spell them xp.<name>, or "
                     "list them in HOST_CALLS with the reason):\n" + "\n".join(bad))


def test_no_unlisted_transfers():
    _, bad, _ = _audit()
    assert not bad, ("copies from the host in forward/backward (make them once with "
                     "node_constant, or list them in TRANSFERS with the reason):\n"
                     + "\n".join(bad))


def test_allow_lists_are_exact():
    _, _, used = _audit()
    listed = set(HOST_MODULES) | set(TRANSFERS) | {
        (f, q, n) for (f, q), (names, _) in HOST_CALLS.items() for n in names}
    assert listed - used == set(), f"allow-list entries that match nothing: {listed - used}"


def test_winograd_is_host_only():
    assert not _winograd.takes(sim.xp, np.dtype(np.float32))
    assert _winograd.takes(np, np.dtype(np.float32))


_SAMPLE = '''
import numpy as np
import numpy
from numpy import exp as e

def helper(xp, a):
    with np.errstate(divide="ignore"):
        b = np.log(a) + np.float32(1.5) * np.float32(a)
    return numpy.linalg.inv(b), e(a), np.r_[0:3], np.dtype("f4"), np.s_[1:]

def not_scanned(a):
    return np.exp(a), xp.asarray(a)

class F:
    def forward(self, xp, x):
        k = node_constant(self, xp, "k", lambda: xp.asarray(np.arange(3)))
        f = lambda xp: np.cumsum(x)
        return xp.take(x, xp.asarray([0, 1])) + k

    def setup(self, x):
        return np.zeros(3)

TABLE = {"exp": lambda xp, x: np.exp(x)}
'''


def test_rules_find_host_calls_and_transfers():
    calls = host_calls(_SAMPLE)
    # not: errstate, float32 of a literal, dtype, s_, node_constant's arguments,
    # the function without xp, setup
    assert calls == [(8, "helper", "float32"), (8, "helper", "log"), (9, "helper", "exp"),
                     (9, "helper", "linalg.inv"), (9, "helper", "r_"),
                     (17, "F.forward", "cumsum"), (23, "<lambda>", "exp")]
    assert transfers(_SAMPLE) == [(18, "F.forward")]


def test_audit_names_an_unlisted_call(monkeypatch, tmp_path):
    bad_file = tmp_path / "bad.py"
    bad_file.write_text("import numpy as np\n\nclass G:\n    def backward(self, xp, xs, ys, gys):\n"
                        "        return np.exp(gys[0]), xp.asarray(xs[0])\n")
    monkeypatch.setattr(sys.modules[__name__], "SOURCES", [bad_file])
    bad_calls, bad_moves, _ = _audit()
    assert bad_calls == ["bad.py:5: np.exp(...) in G.backward"]
    assert bad_moves == ["bad.py:5: a host-to-device copy (xp.asarray & co) in G.backward, "
                         "outside node_constant"]


# -- no host-to-device copies after the first forward, on the simulated device ---

class _Transfers:
    """Counts host-to-device copies on the simulated device: xp.asarray & co of host
    data, host index arrays (x[host]) and host values (x[...] = host)."""

    def __init__(self, monkeypatch):
        self.n = 0
        for name in TRANSFER_NAMES:
            move = getattr(sim.xp, name)
            monkeypatch.setattr(sim.xp, name, self._counted(move))
        index = sim._index

        def counted_index(key):
            keys = key if type(key) is tuple else (key,)
            self.n += sum(isinstance(k, np.ndarray) for k in keys)
            return index(key)
        monkeypatch.setattr(sim, "_index", counted_index)
        setitem = sim.DeviceArray.__setitem__

        def counted_setitem(a, key, value):
            self.n += isinstance(value, np.ndarray)
            setitem(a, key, value)
        monkeypatch.setattr(sim.DeviceArray, "__setitem__", counted_setitem)

    def _counted(self, move):
        def run(a, *args, **kw):
            self.n += type(a) is not sim.DeviceArray
            return move(a, *args, **kw)
        return run


def _rand(shape, seed=0):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def _signal(seed=0):
    return _rand((2, 64), seed)


def _spectrum():
    yr, yi = F.stft(nn.Variable.from_numpy_array(_signal()), 16, 4, 16)
    yr.forward()
    return yr.d, yi.d


_YR, _YI = _spectrum()
_BOXES = np.array([[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 2, 1, 3]]], np.float32)
_SCORES = np.array([[[0.9, 0.8, 0.7]]], np.float32)

# (name, build(*variables), input arrays, host copies each forward still makes);
# floating-point inputs want gradients unless the function has no backward
NO_BACKWARD = {"onnx_resize extrapolation", "onnx_non_max_suppression"}
CASES = [
    ("pad reflect", lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"), [_rand((2, 3, 5, 6))], 0),
    ("pad repeat", lambda x: F.pad(x, (1, 3), mode="repeat"), [_rand((3, 5))], 0),
    ("shift nearest", lambda x: F.shift(x, (1, -2)), [_rand((2, 5, 6))], 0),
    ("shift reflect", lambda x: F.shift(x, (-2, 3), border_mode="reflect"), [_rand((2, 5, 6))], 0),
    ("stft reflect", lambda x: F.stft(x, 16, 4, 16), [_signal()], 0),
    ("stft hamming, not centred", lambda x: F.stft(x, 12, 4, 16, "hamming", False, "constant"),
     [_signal()], 0),
    ("stft as istft backward",
     lambda x: F.stft(x, 16, 4, 16, pad_mode="constant", as_istft_backward=True), [_signal()], 0),
    ("istft", lambda yr, yi: F.istft(yr, yi, 16, 4, 16, pad_mode="constant"), [_YR, _YI], 0),
    ("istft as stft backward",
     lambda yr, yi: F.istft(yr, yi, 16, 4, 16, as_stft_backward=True), [_YR, _YI], 0),
    ("pack_padded_sequence", lambda x, n: F.pack_padded_sequence(x, n),
     [_rand((4, 3, 2)), np.array([4, 2, 1])], 0),
    ("pack_padded_sequence batch_first",
     lambda x, n: F.pack_padded_sequence(x, n, batch_first=True),
     [_rand((3, 4, 2)), np.array([4, 2, 1])], 0),
    ("pad_packed_sequence", lambda p, s: F.pad_packed_sequence(p, s, total_length=5),
     [_rand((7, 2)), np.array([3, 2, 1, 1])], 0),
    ("one_hot", lambda x: F.one_hot(x, (3, 4)), [np.array([[0, 1], [2, 3], [1, 0]])], 0),
    ("bool_fill", lambda x, m: F.bool_fill(x, m, value=2.5),
     [_rand((3, 4)), (_rand((3, 4), 1) > 0).astype(np.float32)], 0),
    ("shape", lambda x: F.shape(x), [_rand((2, 3, 4))], 0),
    ("onnx_resize extrapolation", lambda x: F.onnx_resize(
        x, roi=(0, 0, 0, -0.2, 1, 1, 1, 1.2), sizes=(1, 2, 3, 5), mode="linear",
        coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0),
     [_rand((1, 2, 3, 4))], 0),
    ("onnx_non_max_suppression", lambda b, s: F.onnx_non_max_suppression(
        b, s, max_output_boxes_per_class=2, iou_threshold=0.5), [_BOXES, _SCORES], 0),
    ("average_pooling", lambda x: F.average_pooling(x, (3, 3), (2, 2), pad=(1, 1),
                                                    including_pad=False),
     [_rand((2, 3, 7, 6))], 0),
    ("random_shift constant", lambda x: F.random_shift(x, (0, 2, 1), border_mode="constant",
                                                       constant_value=0.5, seed=3),
     [_rand((2, 4, 5))], 2),  # its two draws (the shifts of two axes)
    # and common functions, for good measure
    ("affine relu", lambda x, w: F.relu(F.affine(x, w)), [_rand((4, 6)), _rand((6, 3), 1)], 0),
    ("convolution", lambda x, w: F.convolution(x, w, pad=(1, 1)),
     [_rand((2, 3, 6, 6)), _rand((4, 3, 3, 3), 1)], 0),
    ("max_pooling", lambda x: F.max_pooling(x, (2, 2)), [_rand((2, 3, 6, 6))], 0),
    ("softmax_cross_entropy", lambda x, t: F.softmax_cross_entropy(x, t),
     [_rand((5, 4)), np.array([[0], [3], [1], [2], [1]])], 0),
    ("concatenate transpose", lambda x: F.transpose(F.concatenate(x, x, axis=1), (1, 0)),
     [_rand((3, 4))], 0),
]


def _node_run(f, xs, need, gys):
    """forward and (where some input wants a gradient) backward of node ``f``;
    -> its outputs' gradients (made on the first run, ``gys`` None)."""
    ys = f.forward(sim.xp, *xs)
    ys = list(ys) if isinstance(ys, (tuple, list)) else [ys]
    if any(need):
        f.need = need
        if gys is None:
            gys = [sim.xp.asarray(_rand(y.shape, 5).astype(y.dtype)) for y in ys]
        f.backward(sim.xp, xs, ys, gys)
    return gys


def _node_runs(build, arrays, grad):
    """Every node of the graph ``build(*variables)`` with device copies of what
    reaches it on the CPU, run once (constants move then). -> [(node, inputs,
    need)], their outputs' gradients."""
    vs = [nn.Variable.from_numpy_array(a.copy(), need_grad=grad and a.dtype.kind == "f")
          for a in arrays]
    out = build(*vs)
    outs = list(out) if isinstance(out, tuple) else [out]
    order, seen = [], set()

    def visit(v):
        f = v.parent
        if f is None or id(f) in seen:
            return
        seen.add(id(f))
        for x in f.inputs:
            visit(x)
        order.append(f)
    for y in outs:
        visit(y)
    outs[0].forward()  # the host values of every intermediate, for the node runs
    runs = []
    for f in order:
        xs = [sim.xp.asarray(np.array(x.d)) for x in f.inputs]
        need = tuple(bool(x.need_grad) and x.d.dtype.kind == "f" for x in f.inputs)
        runs.append((f, xs, need))
    return runs, [_node_run(f, xs, need, None) for f, xs, need in runs]


@pytest.mark.parametrize("build, arrays, expected, grad",
                         [pytest.param(b, a, e, n not in NO_BACKWARD, id=n)
                          for n, b, a, e in CASES])
def test_no_host_copies_after_the_first_forward(monkeypatch, build, arrays, expected, grad):
    runs, gys = _node_runs(build, arrays, grad)
    counter = _Transfers(monkeypatch)
    for (f, xs, need), g in zip(runs, gys):
        _node_run(f, xs, need, g)
    assert counter.n == expected


# (name, build, inputs, device values each forward + backward reads on the host):
# each read waits for the device. Index bounds are checked (CuPy would wrap an
# index past the end silently), one read of all bounds per call.
READS = [
    ("embed, an index outside the table", lambda i, w: F.embed(i, w),
     [np.array([[0, 3], [5, 1]]), _rand((4, 3))], 0),
    ("gather", lambda x, i: F.gather(x, i, axis=1), [_rand((3, 4)), np.array([[0, 3, 1]])], 1),
    ("gather_nd", lambda x, i: F.gather_nd(x, i), [_rand((3, 4)), np.array([[0, 2], [1, 3]])],
     1),
    ("mean_subtraction", lambda x, m, t: F.mean_subtraction(x, m, t),
     [_rand((4, 3)), np.zeros(3, np.float32), np.zeros(1, np.float32)], 0),
    ("batch_normalization", lambda x, b, g, m, v: F.batch_normalization(x, b, g, m, v),
     [_rand((4, 3, 2, 2)), *[_rand((1, 3, 1, 1), s) for s in (1, 2, 3)],
      np.ones((1, 3, 1, 1), np.float32)], 0),
    ("pack_padded_sequence", lambda x, n: F.pack_padded_sequence(x, n),
     [_rand((4, 3, 2)), np.array([4, 2, 1])], 0),
    ("cumprod with zeros, backward", lambda x: F.cumprod(x, axis=1, exclusive=True),
     [np.array([[0.5, 0.0, 2.0, 0.0], [1.5, 2.0, 0.0, 3.0]], np.float32)], 0),
    ("roi_align: one read each way", lambda x, b: F.roi_align(x, b, (2, 3)),
     [_rand((2, 3, 6, 7)), np.array([[1, 0.5, 1, 4, 5], [0, 2, 0, 6, 3], [1, 1, 1, 2, 2]],
                                    np.float32)], 2),
    ("lstm", lambda x, h, c, w0, w: F.lstm(x, h, c, w0, w, num_layers=2)[0],
     [_rand((3, 2, 4)), _rand((2, 1, 2, 5), 1), _rand((2, 1, 2, 5), 2), _rand((1, 4, 5, 9), 3),
      _rand((1, 1, 4, 5, 10), 4)], 0),
    *[(n, b, a, 0) for n, b, a, _ in CASES[-5:]],  # affine relu ... concatenate transpose
]


@pytest.mark.parametrize("build, arrays, expected",
                         [pytest.param(b, a, e, id=n) for n, b, a, e in READS])
def test_device_values_read_on_the_host_per_forward(build, arrays, expected):
    runs, gys = _node_runs(build, arrays, True)
    with sim.count_transfers() as counts:
        for (f, xs, need), g in zip(runs, gys):
            _node_run(f, xs, need, g)
    assert counts["to_host"] == expected


def test_the_counter_counts(monkeypatch):
    counter = _Transfers(monkeypatch)
    a = sim.xp.asarray(np.arange(4.0))  # 1
    a[np.array([0, 1])] = np.array([5.0, 6.0])  # 2, 3
    a[np.array([True, False, True, False])]  # 4
    sim.xp.asarray(a)  # on the device already: none
    a[1:3] = 0.0  # a scalar: none
    assert counter.n == 4


def test_graph_forward_copies_nothing_after_the_first(monkeypatch):
    """The engine and the functions together, in the cudnn context on the device."""
    from nablite import backend
    from nablite.ext_utils import get_extension_context
    monkeypatch.setattr(backend, "_sim", True)
    with nn.context_scope(get_extension_context("cudnn")):
        x = nn.Variable.from_numpy_array(_signal(), need_grad=True)
        yr, yi = F.stft(F.pad(x, (3, 3), mode="reflect"), 16, 4, 16)
        loss = F.sum(F.shift(yr, (1, 2)) * yi)
        loss.forward()
        loss.backward()
        counter = _Transfers(monkeypatch)
        loss.forward()
        loss.backward()
    assert counter.n == 0
