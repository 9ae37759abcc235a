import numpy as np
import pytest

import nablite as nn
from nablite.ext_utils import get_extension_context
from nablite import backend


@pytest.mark.host_context
def test_default_context_and_repr():
    ctx = nn.get_current_context()
    assert ctx.backend == ["cpu:float"]
    assert repr(nn.Context()) == "Context(backend=['cpu:float'], array_class='', device_id='0')"


def test_cpu_extension_context():
    ctx = get_extension_context("cpu")
    assert ctx.backend == ["cpu:float"] and ctx.array_class == "CpuCachedArray"
    assert ctx.device_id == "" and ctx["backend"] == ["cpu:float"]
    assert get_extension_context("cpu", type_config="half").backend == ["cpu:half", "cpu:float"]
    double = get_extension_context("cpu", type_config="double")  # nablite's own
    assert double.backend == ["cpu:double", "cpu:float"] and double.double
    assert not ctx.double and not ctx.half
    with pytest.raises(ValueError, match="type_config"):
        get_extension_context("cpu", type_config="mixed_half")  # CUDA only, as in NNabla
    with pytest.raises(ValueError, match="ext_name"):
        get_extension_context("tpu")


def test_context_scope_restores_and_blocks_set_default():
    ctx = get_extension_context("cpu")
    before = nn.get_current_context()
    with nn.context_scope(ctx):
        assert nn.get_current_context() is ctx
        with pytest.raises(AssertionError):
            nn.set_default_context(ctx)
    assert nn.get_current_context() is before
    nn.set_default_context(ctx)
    try:
        assert nn.get_current_context() is ctx
    finally:
        nn.set_default_context(before)


@pytest.mark.skipif(backend.cupy is not None, reason="CuPy is installed here")
@pytest.mark.parametrize("name", ["cuda", "cudnn"])
def test_gpu_context_without_cupy_says_what_is_missing(name, monkeypatch):
    monkeypatch.setattr(backend, "_sim", False)
    with pytest.raises(RuntimeError, match="CuPy"):
        get_extension_context(name, device_id="0")


def test_seed_makes_initial_draws_reproducible():
    import nablite.random as r
    nn.seed(7)
    a = r.prng.rand(3)
    nn.seed(7)
    assert (r.prng.rand(3) == a).all()
    with pytest.raises(TypeError, match="int"):
        nn.seed(1.5)


@pytest.fixture
def sim_gpus(monkeypatch):
    """The simulated machine (4 GPUs), its current device put back afterwards."""
    from nablite import _device_sim
    monkeypatch.setattr(backend, "_sim", True)
    before = _device_sim.xp.cuda.Device().id
    yield _device_sim.xp.cuda
    _device_sim.xp.cuda.Device(before).use()


@pytest.mark.host_context
def test_device_id_selects_the_gpu(sim_gpus):
    ctx2 = get_extension_context("cudnn", device_id="2")
    ctx1 = get_extension_context("cuda", device_id=1)  # an int, as str(...) in NNabla
    assert (ctx2.device_id, ctx1.device_id) == ("2", "1")
    before = nn.get_current_context()
    nn.set_default_context(ctx2)
    try:
        assert sim_gpus.Device().id == 2
        with nn.context_scope(ctx1):
            assert sim_gpus.Device().id == 1
            with nn.context_scope(get_extension_context("cpu")):
                assert sim_gpus.Device().id == 1  # the CPU selects no GPU
            x = nn.Variable.from_numpy_array(np.arange(3.0))
            y = x + 1
            y.forward()
            assert y.d.tolist() == [1.0, 2.0, 3.0]
        assert sim_gpus.Device().id == 2, "context_scope did not restore the GPU"
    finally:
        nn.set_default_context(before)


@pytest.mark.host_context
def test_a_scope_on_the_current_gpu_switches_nothing(sim_gpus, monkeypatch):
    """PythonFunction enters its context's scope on every call: on the GPU that
    is current already, no device switch (CuPy's use()) there and back."""
    switches = []
    use = sim_gpus.Device.use
    monkeypatch.setattr(sim_gpus.Device, "use", lambda self: (switches.append(self.id), use(self)))
    ctx1 = get_extension_context("cudnn", device_id="1")
    with nn.context_scope(ctx1):
        for _ in range(3):
            with nn.context_scope(ctx1):
                assert sim_gpus.Device().id == 1
    assert switches == [1, 0] and sim_gpus.Device().id == 0


@pytest.mark.host_context
@pytest.mark.parametrize("device_id", ["4", "-1", "gpu0"])
def test_a_device_id_that_is_no_gpu_is_named(sim_gpus, device_id):
    with pytest.raises(ValueError, match=rf"get_extension_context\('cudnn'\): "
                                         rf"device_id='{device_id}' is not a GPU of this "
                                         r"machine: expected an integer in 0\.\.3 \(4 GPUs"):
        get_extension_context("cudnn", device_id=device_id)
    made = nn.Context(["cudnn:float"], "CudaCachedArray", device_id)
    with pytest.raises(ValueError, match=rf"set_default_context: Context\(.*\): "
                                         rf"device_id='{device_id}'"):
        nn.set_default_context(made)
    with pytest.raises(ValueError, match=rf"context_scope: .*device_id='{device_id}'"):
        with nn.context_scope(made):
            pass
    assert sim_gpus.Device().id == 0 and nn.get_current_context() is not made


def test_available_contexts_and_array_preference():
    """NNabla's names around contexts: the list of loaded extensions, and the
    allocator preference (taken; nablite has no allocator to steer)."""
    assert "cpu" in nn.available_contexts
    nn.add_available_context("cpu")
    assert nn.available_contexts.count("cpu") == 1
    assert nn.prefer_cached_array(False) is None and nn.reset_array_preference() is None
    with pytest.raises(TypeError, match="prefer_cached_array: prefer must be a bool"):
        nn.prefer_cached_array("yes")
