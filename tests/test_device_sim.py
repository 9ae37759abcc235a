"""The simulated device (_device_sim): its arrays refuse what CuPy refuses and
allow what CuPy allows, and backend.py routes the CUDA contexts to it."""
import copy
import pickle

import numpy as np
import pytest

import nablite as nn
from nablite import backend
from nablite._device_sim import DeviceArray, xp


@pytest.fixture
def a():
    return xp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))


# -- refused, as CuPy refuses --------------------------------------------------

def test_implicit_conversion_to_numpy_is_refused(a):
    for convert in (np.asarray, np.array, lambda v: np.array([v, v]),
                    lambda v: np.zeros(6).reshape(2, 3).__iadd__(v)):
        with pytest.raises(TypeError, match="device array"):
            convert(a)


@pytest.mark.parametrize("call", [np.exp, np.sum, lambda v: np.concatenate([v, v]),
                                  lambda v: np.broadcast_to(v, (4, 2, 3)),
                                  lambda v: np.copyto(np.zeros((2, 3)), v),
                                  lambda v: np.add.at(v, [0], 1.0)])
def test_host_numpy_functions_on_device_arrays_are_refused(a, call):
    with pytest.raises(TypeError, match="numpy\\.[a-z_]+: called on a device array"):
        call(a)


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**", "@", "<", "==", "+="])
def test_host_operand_is_refused(a, op):
    host = np.ones((3, 3) if op == "@" else (2, 3), np.float32)
    for expr in (f"a {op} host", f"host {op} a"):
        with pytest.raises(TypeError):
            exec(expr, {}, {"a": a, "host": host})


@pytest.mark.parametrize("name", ["exp", "add", "concatenate", "copyto", "where", "matmul"])
def test_xp_functions_refuse_host_arrays(a, name):
    host = np.ones((2, 3), np.float32)
    args = {"exp": (host,), "add": (a, host), "concatenate": ([a, host],),
            "copyto": (a, host), "where": (a > 1, host, a), "matmul": (a, host.T)}[name]
    with pytest.raises(TypeError, match=f"xp.{name}: an argument is a host numpy.ndarray"):
        getattr(xp, name)(*args)


def test_ufunc_methods_refuse_host_arrays(a):
    with pytest.raises(TypeError, match="xp.add.at"):
        xp.add.at(a, np.array([0]), np.ones(3, np.float32))
    with pytest.raises(TypeError, match="xp.add.reduce"):
        xp.add.reduce(np.ones(3))
    with pytest.raises(TypeError, match="xp.multiply"):
        xp.multiply(a, a, out=np.empty((2, 3), np.float32))


def test_no_hidden_host_interfaces(a):
    for name in ("__array_interface__", "__array_struct__", "data", "ctypes", "tobytes"):
        assert not hasattr(a, name)
    assert not isinstance(a, np.ndarray)


# -- allowed, as CuPy allows ---------------------------------------------------

def test_scalars_and_device_operands(a):
    h = np.arange(6, dtype=np.float32).reshape(2, 3)
    for r, ref in [(a + 1, h + 1), (2.5 * a, 2.5 * h), (np.float32(2) * a, 2 * h),
                   (a * a, h * h), (a @ a.T, h @ h.T), (-a, -h), (a > 2, h > 2),
                   (a ** 2, h ** 2), (1 / (a + 1), 1 / (h + 1))]:
        assert type(r) is DeviceArray
        np.testing.assert_array_equal(r.get(), ref)
    b = a.copy()
    b += a
    b *= np.float32(0.5)
    np.testing.assert_array_equal(b.get(), h)


def test_explicit_transfers_and_host_values(a):
    h = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(xp.asnumpy(a), h)
    np.testing.assert_array_equal(backend.to_numpy(a), h)
    assert type(a.get()) is np.ndarray and a.get() is not a.get()
    assert xp.asarray(a) is a  # no copy, as CuPy
    assert type(xp.array([[1, 2]])) is DeviceArray
    b = xp.zeros((2, 3), np.float32)
    b[...] = h  # a host value (CuPy copies it to the device)
    b[np.array([0])] = h[:1] * 2  # a host index too
    np.testing.assert_array_equal(b.get(), np.stack([h[0] * 2, h[1]]))
    out = np.empty((2, 3), np.float32)
    assert backend.to_numpy(a, out=out) is out
    np.testing.assert_array_equal(out, h)
    with pytest.raises(RuntimeError, match="non-contiguous"):  # as CuPy's get(out=)
        a.get(out=np.empty((2, 6), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="shape"):
        a.get(out=np.empty((3, 2), np.float32))


def test_synchronizing_conversions(a):
    assert float(a[1, 2]) == 5.0 and int(a[0, 1]) == 1 and bool(a[0, 1])
    assert a[1, 1].item() == 4.0 and a.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert len(a) == 2
    rows = list(a)
    assert all(type(r) is DeviceArray for r in rows)
    np.testing.assert_array_equal(rows[1].get(), [3, 4, 5])
    assert f"{a.sum():.1f}" == "15.0"


def test_every_host_read_is_counted(a):
    from nablite._device_sim import count_transfers
    with count_transfers() as counts:
        float(a[0, 0]), bool(a[0, 1]), a.item(1), a.tolist(), backend.to_numpy(a)
        xp.asarray(np.ones(2)), xp.asarray(a)  # a device array is no transfer
    assert counts == {"to_host": 5, "to_device": 1}


def test_argsort_is_stable_and_refuses_kind_as_older_cupy_does():
    ties = np.array([2, 1, 2, 1, 0, 2] * 50)
    stable = np.argsort(ties, kind="stable")
    np.testing.assert_array_equal(xp.argsort(xp.asarray(ties)).get(), stable)
    for call in (lambda v: xp.argsort(v, kind="stable"), lambda v: v.argsort(kind="stable")):
        with pytest.raises(TypeError, match="stable_argsort"):
            call(xp.asarray(ties))
    for module, to in ((np, np.asarray), (xp, xp.asarray)):
        got = backend.to_numpy(backend.stable_argsort(module, to(ties.reshape(3, 100)), 1))
        np.testing.assert_array_equal(got, np.argsort(ties.reshape(3, 100), 1, kind="stable"))


def test_sum_at_adds_repeated_indices_on_host_and_device():
    index, values = np.array([0, 3, 3, 1, 0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32)
    for module, to in ((np, np.asarray), (xp, xp.asarray)):
        got = backend.sum_at(module, 5, to(index), to(values))
        assert backend.to_numpy(got).dtype == np.float64
        np.testing.assert_array_equal(backend.to_numpy(got), [6, 4, 0, 5, 0])
    assert backend.on_host(np) and not backend.on_host(xp)
    assert backend.refuses_out_of_range(np) and not backend.refuses_out_of_range(xp)


def test_reductions_return_0d_device_arrays(a):
    for r in (a.sum(), a.max(), xp.sum(a), xp.add.reduce(a, axis=None), xp.mean(a)):
        assert type(r) is DeviceArray and r.shape == ()
    assert float(xp.max(a)) == 5.0


def test_attributes_and_methods(a):
    h = a.get()
    assert (a.shape, a.dtype, a.ndim, a.size, a.strides, a.itemsize, a.nbytes) == \
        (h.shape, h.dtype, h.ndim, h.size, h.strides, h.itemsize, h.nbytes)
    assert a.flags.c_contiguous and a.copy().base is None
    v = a.reshape(3, 2)
    assert type(v) is DeviceArray and type(v.base) is DeviceArray
    np.testing.assert_array_equal(a.T.get(), h.T)
    np.testing.assert_array_equal(a.astype(np.int32).get(), h.astype(np.int32))
    np.testing.assert_array_equal(a.transpose(1, 0).ravel().get(), h.T.ravel())
    np.testing.assert_array_equal(a.sum(axis=0, keepdims=True).get(), h.sum(0, keepdims=True))
    c = a.copy()
    c.fill(3)
    np.testing.assert_array_equal(c.get(), np.full((2, 3), 3, np.float32))
    np.testing.assert_array_equal(copy.deepcopy(a).get(), h)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(a)).get(), h)
    # host functions that read only shapes and dtypes
    assert np.shape(a) == (2, 3) and np.ndim(a) == 2 and np.size(a) == 6
    assert np.result_type(a, np.float64) == np.float64


def test_module_functions_and_ufunc_methods(a):
    h = a.get()
    np.testing.assert_array_equal(xp.concatenate([a, a]).get(), np.concatenate([h, h]))
    np.testing.assert_array_equal(xp.exp(a).get(), np.exp(h))
    np.testing.assert_array_equal(xp.add.outer(a[0], a[1]).get(), np.add.outer(h[0], h[1]))
    np.testing.assert_array_equal(xp.add.accumulate(a, axis=1).get(), np.add.accumulate(h, 1))
    t = xp.zeros(3, np.float32)
    xp.add.at(t, xp.asarray(np.array([0, 0, 2])), xp.asarray(np.ones(3, np.float32)))
    np.testing.assert_array_equal(t.get(), [2, 0, 1])
    out = xp.empty((2, 3), np.float32)
    assert xp.multiply(a, 2, out=out) is out
    np.testing.assert_array_equal(out.get(), h * 2)
    i, j = xp.nonzero(a > 3)
    assert type(i) is DeviceArray and i.tolist() == [1, 1] and j.tolist() == [1, 2]
    assert xp.float32 is np.float32 and xp.pi == np.pi and xp.newaxis is None
    assert xp.ndarray is DeviceArray and isinstance(a, xp.ndarray)
    assert xp.__name__ == "nablite_device_sim"


def test_submodules(a):
    h = a.get()
    np.testing.assert_allclose(xp.linalg.norm(a).get(), np.linalg.norm(h))
    w, v = xp.linalg.eigh(a @ a.T)
    assert type(w) is DeviceArray and type(v) is DeviceArray
    np.testing.assert_allclose(xp.fft.fft(a).get(), np.fft.fft(h))
    win = xp.lib.stride_tricks.sliding_window_view(a, 2, axis=1)
    np.testing.assert_array_equal(win.get(), np.lib.stride_tricks.sliding_window_view(h, 2, 1))
    rng = xp.random.RandomState(0)
    r = rng.rand(2, 3)
    assert type(r) is DeviceArray
    np.testing.assert_array_equal(r.get(), np.random.RandomState(0).rand(2, 3))
    assert type(xp.random.default_rng(1).normal(size=3)) is DeviceArray
    with pytest.raises(TypeError, match="host numpy.ndarray"):
        xp.linalg.norm(h)


# -- backend.py ------------------------------------------------------------------

@pytest.fixture
def sim():
    was = backend.device_sim_enabled()
    backend.use_device_sim(True)
    yield
    backend.use_device_sim(was)


def test_backend_routes_cuda_contexts_to_the_simulation(sim, a):
    assert backend.module_for("cudnn") is xp and backend.module_for("cuda") is xp
    assert backend.module_for("cpu") is np
    assert backend.array_module(np.ones(2), a) is xp
    assert backend.array_module(np.ones(2)) is np
    assert backend.is_device_array(a) and not backend.is_device_array(np.ones(2))
    assert type(backend.to_device(xp, np.ones(2))) is DeviceArray
    assert type(backend.to_device(np, a)) is np.ndarray
    t = xp.zeros(4, np.float32)
    backend.scatter_add(xp, t, xp.asarray(np.array([1, 1, 3])), xp.asarray(np.ones(3, np.float32)))
    np.testing.assert_array_equal(t.get(), [0, 2, 0, 1])
    backend.synchronize(xp)  # nothing to wait for


def test_backend_without_cupy_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(backend, "_sim", False)
    monkeypatch.setattr(backend, "cupy", None)
    with pytest.raises(RuntimeError, match=r"needs CuPy.*nablite\[cuda13\]"):
        backend.module_for("cudnn")


def test_backend_with_cupy_but_no_gpu_says_so(monkeypatch):
    class NoDevice(Exception):
        pass

    class Runtime:
        @staticmethod
        def getDeviceCount():
            raise NoDevice("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = type("cupy", (), {"cuda": type("cuda", (), {"runtime": Runtime})})
    monkeypatch.setattr(backend, "_sim", False)
    monkeypatch.setattr(backend, "cupy", fake)
    monkeypatch.setattr(backend, "_gpu_problem", None)
    with pytest.raises(RuntimeError, match="CuPy is installed, but it finds no usable GPU "
                                           r"\(NoDevice: cudaErrorNoDevice"):
        backend.module_for("cuda")


@pytest.mark.parametrize("cupy", ["missing", "no GPU"])
def test_nnablas_cpu_fallback_idiom_works(monkeypatch, cupy):
    """NNabla scripts write ``try: ctx = get_extension_context('cudnn')
    except ImportError: <the CPU>``: nablite's refusal is an ImportError too."""
    class Runtime:
        @staticmethod
        def getDeviceCount():
            return 0
    fake = type("cupy", (), {"cuda": type("cuda", (), {"runtime": Runtime})})
    monkeypatch.setattr(backend, "_sim", False)
    monkeypatch.setattr(backend, "cupy", None if cupy == "missing" else fake)
    monkeypatch.setattr(backend, "_gpu_problem", None)
    from nablite.ext_utils import get_extension_context, import_extension_module
    try:
        ctx = get_extension_context("cudnn")
    except ImportError as e:
        assert isinstance(e, RuntimeError)  # what nablite raised before, still caught
        ctx = get_extension_context("cpu")
    assert ctx.backend == ["cpu:float"]
    with pytest.raises(ImportError, match="CuPy" if cupy == "missing" else "no GPU"):
        import_extension_module("cudnn")


# -- NdArray's two copies and the engine on the simulated device ---------------------

@pytest.fixture
def on_device(sim):
    """The 'cudnn' context on the simulated device; counts host<->device copies."""
    from nablite.context import context_scope
    from nablite.ext_utils import get_extension_context
    counts = {"to_device": 0, "to_host": 0}
    to_device, to_numpy = backend.to_device, backend.to_numpy

    def counted_to_device(m, a):
        counts["to_device"] += isinstance(a, np.ndarray)
        return to_device(m, a)

    def counted_to_numpy(a, out=None):
        counts["to_host"] += type(a) is DeviceArray
        return to_numpy(a, out)

    mp = pytest.MonkeyPatch()
    mp.setattr(backend, "to_device", counted_to_device)
    mp.setattr(backend, "to_numpy", counted_to_numpy)
    with context_scope(get_extension_context("cudnn")):
        yield counts
    mp.undo()


def test_ndarray_copies_move_only_when_the_newest_copy_moves(on_device):
    from nablite._array import NdArray
    nd = NdArray.from_numpy_array(np.arange(4.0))
    dev = nd._on(xp)
    assert type(dev) is DeviceArray and on_device["to_device"] == 1
    assert nd._on(xp) is dev and on_device["to_device"] == 1  # newest there already
    dev += 1  # device work
    host = nd.data
    np.testing.assert_array_equal(host, np.arange(4.0) + 1)
    assert on_device["to_host"] == 1 and nd.data is host and nd.get_data() is host
    host[0] = 42  # an in-place edit on the host is seen by the next device use
    assert nd._on(xp)[0].item() == 42 and on_device["to_device"] == 2
    nd._on(xp)[1] = 7
    assert nd.data is host and host[1] == 7  # copied back into the same host buffer
    nd.zero()
    assert type(nd._on(xp)) is DeviceArray and float(nd._on(xp).sum()) == 0
    lazy = NdArray((2, 3))
    assert type(lazy._on(xp)) is DeviceArray and lazy._on(xp).shape == (2, 3)
    assert on_device["to_device"] == 2  # lazy zeros are made on the device
    assert type(nd.cast(np.float32, nn.get_current_context())) is DeviceArray
    assert nd.data.dtype == np.float32
    strided = NdArray.from_numpy_array(np.zeros(8))
    strided._set(np.arange(8.0)[::2])  # a host view CuPy's get(out=) cannot fill
    strided._on(xp)
    np.testing.assert_array_equal(strided.data, [0, 2, 4, 6])


def test_assigning_on_the_host_does_not_copy_the_device_values_back(on_device):
    x = nn.Variable((3,))
    x.d = 1
    x._data._on(xp)
    x.d = np.array([1.0, 2.0, 3.0], np.float32)
    assert on_device["to_host"] == 0
    np.testing.assert_array_equal(x._data._on(xp).get(), [1, 2, 3])


def _net():
    import nablite.functions as F
    import nablite.parametric_functions as PF
    x, t = nn.Variable((4, 3)), nn.Variable((4, 1))
    y = PF.affine(F.tanh(PF.affine(x, 5, name="l1")), 2, name="l2")
    return x, t, F.mean(F.softmax_cross_entropy(y, t))


def _train(steps, rng):
    import nablite.solvers as S
    nn.clear_parameters()
    nn.seed(3)
    x, t, loss = _net()
    solver = S.Sgd(0.5)
    solver.set_parameters(nn.get_parameters())
    losses = []
    for _ in range(steps):
        x.d = rng.randn(4, 3)
        t.d = rng.randint(0, 2, (4, 1))
        loss.forward(clear_no_need_grad=True)
        solver.zero_grad()
        loss.backward(clear_buffer=True)
        solver.update()
        losses.append(float(loss.d))
    params = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    nn.clear_parameters()
    return losses, params


def test_training_on_the_device_equals_the_cpu_and_copies_only_inputs_and_loss(on_device):
    from nablite.context import context_scope
    from nablite.ext_utils import get_extension_context
    dev_losses, dev_params = _train(4, np.random.RandomState(0))
    # per step: x and t go to the device, the loss comes back; the first step
    # also moves the initial parameters, the end reads them once
    assert on_device["to_device"] == 2 * 4 + 4
    assert on_device["to_host"] == 4 + 4
    with context_scope(get_extension_context("cpu")):
        cpu_losses, cpu_params = _train(4, np.random.RandomState(0))
    np.testing.assert_allclose(dev_losses, cpu_losses, rtol=1e-6)
    for k in cpu_params:
        np.testing.assert_allclose(dev_params[k], cpu_params[k], rtol=1e-5, atol=1e-7)


def test_leaf_gradients_accumulate_on_the_device(on_device):
    import nablite.functions as F
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0], np.float32), need_grad=True)
    y = F.sum(x * x)
    y.forward()
    x.g = 1  # set on the host, then backward adds on the device
    y.backward()
    assert type(x._grad._arr) is DeviceArray
    y.backward()
    np.testing.assert_allclose(x.g, 1 + 2 * 2 * np.array([1.0, 2.0]))
    x.grad.zero()
    y.backward(grad=np.array(3.0, np.float32))
    np.testing.assert_allclose(x.g, 3 * 2 * np.array([1.0, 2.0]))


def test_a_graph_over_host_and_device_functions(on_device):
    """Functions built in the CPU context next to device ones: inputs reach each
    function on its side, gradients cross on the host."""
    import nablite.functions as F
    from nablite.context import context_scope
    from nablite.ext_utils import get_extension_context
    x = nn.Variable.from_numpy_array(np.array([0.5, -1.0, 2.0], np.float32), need_grad=True)
    h = F.tanh(x)  # on the device
    with context_scope(get_extension_context("cpu")):
        z = F.exp(h) * x  # on the host
    loss = F.sum(F.sin(z))  # on the device
    loss.forward()
    loss.backward()
    v = np.array([0.5, -1.0, 2.0])
    zz = np.exp(np.tanh(v)) * v
    np.testing.assert_allclose(loss.d, np.sin(zz).sum(), rtol=1e-6)
    dz = np.cos(zz)
    ref = dz * (np.exp(np.tanh(v)) * (1 - np.tanh(v) ** 2) * v + np.exp(np.tanh(v)))
    np.testing.assert_allclose(x.g, ref, rtol=1e-5)


def test_python_function_on_the_device(on_device):
    from nablite.function import PythonFunction
    import nablite.functions as F

    class Square(PythonFunction):
        name = "Square"

        def min_outputs(self):
            return 1

        def setup_impl(self, inputs, outputs):
            outputs[0].reset_shape(inputs[0].shape, True)

        def forward_impl(self, inputs, outputs):
            outputs[0].d = inputs[0].d ** 2  # host NumPy inside, as in NNabla

        def backward_impl(self, inputs, outputs, propagate_down, accum):
            inputs[0].g = 2 * inputs[0].d * outputs[0].g

        def grad_depends_output_data(self, i, o):
            return False

        def grad_depends_input_data(self, i, j):
            return True

    x = nn.Variable.from_numpy_array(np.array([1.0, -2.0], np.float32), need_grad=True)
    y = F.sum(F.tanh(Square()(x)))
    y.forward()
    y.backward()
    np.testing.assert_allclose(y.d, np.tanh([1.0, 4.0]).sum(), rtol=1e-6)
    np.testing.assert_allclose(x.g, (1 - np.tanh([1.0, 4.0]) ** 2) * 2 * np.array([1, -2]),
                               rtol=1e-5, atol=1e-6)


def test_function_info_and_hooks_on_the_device(on_device):
    import nablite.functions as F
    x = nn.Variable.from_numpy_array(np.ones((2, 2), np.float32), need_grad=True)
    y = F.sum(F.relu(x) * 3)
    seen = []
    y.forward(function_pre_hook=lambda f: seen.append(f.name))
    y.backward(function_post_hook=lambda f: seen.append(type(f.inputs[0]._data._arr).__name__))
    assert seen[:3] == ["ReLU", "MulScalar", "Sum"] and set(seen[3:]) <= {"DeviceArray"}
    assert y.parent.xp is xp
    np.testing.assert_array_equal(x.g, np.full((2, 2), 3.0))


def test_fill_and_view_stay_on_the_device(on_device):
    from nablite._array import NdArray
    nd = NdArray((2, 3))
    dev = nd._on(xp)
    nd.fill(2.5)
    assert nd._arr is dev and on_device["to_host"] == 0
    v = nd.view((3, 2))
    assert type(v._arr) is DeviceArray and xp.shares_memory(v._arr, dev)
    np.testing.assert_array_equal(v.data, np.full((3, 2), 2.5))
    np.testing.assert_array_equal(nd.narrow(1, 1, 2).data, np.full((2, 2), 2.5))
