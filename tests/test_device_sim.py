"""The simulated device (_device_sim): its arrays refuse what CuPy refuses and
allow what CuPy allows, and backend.py routes the CUDA contexts to it."""
import copy
import pickle

import numpy as np
import pytest

from nablite import _device_sim, backend
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


def test_synchronizing_conversions(a):
    assert float(a[1, 2]) == 5.0 and int(a[0, 1]) == 1 and bool(a[0, 1])
    assert a[1, 1].item() == 4.0 and a.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert len(a) == 2
    rows = list(a)
    assert all(type(r) is DeviceArray for r in rows)
    np.testing.assert_array_equal(rows[1].get(), [3, 4, 5])
    assert f"{a.sum():.1f}" == "15.0"


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
