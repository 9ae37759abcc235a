"""Variable.backward(communicator_callbacks=...): each callback hears of every
function as its backward finishes, then on_finish; a wrong object is refused
before any gradient is touched (one process, no MPI needed)."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F


class Recorder:
    def __init__(self, log):
        self.log = log

    def on_finish_function_backward(self, function):
        self.log.append(function.info.type_name)

    def on_finish(self):
        self.log.append("finish")


def _graph():
    x = nn.Variable.from_numpy_array(np.arange(6.0).reshape(2, 3), need_grad=True)
    return x, F.sum(F.tanh(x * 2))


@pytest.mark.parametrize("as_list", [False, True])
def test_callbacks_hear_each_function_in_backward_order(as_list):
    x, y = _graph()
    y.forward()
    log, hooked = [], []
    cbs = [Recorder(log), Recorder(log)] if as_list else Recorder(log)
    y.backward(communicator_callbacks=cbs, function_post_hook=lambda f: hooked.append(f))
    order = ["Sum", "Tanh", "MulScalar"]
    if as_list:
        assert log == [n for n in order for _ in range(2)] + ["finish", "finish"]
    else:
        assert log == order + ["finish"]
    assert [f.info.type_name for f in hooked] == order   # the user's hook still runs
    np.testing.assert_allclose(x.g, 2 * (1 - np.tanh(2 * x.d) ** 2), rtol=1e-6)


def test_a_wrong_callback_is_refused_before_backward():
    x, y = _graph()
    y.forward()
    with pytest.raises(TypeError, match="Variable.backward: communicator_callbacks must be "
                                        "a callback .* got int"):
        y.backward(communicator_callbacks=3)
    np.testing.assert_array_equal(x.g, np.zeros((2, 3)))
