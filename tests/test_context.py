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
    with pytest.raises(ValueError, match="type_config"):
        get_extension_context("cpu", type_config="double")
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
