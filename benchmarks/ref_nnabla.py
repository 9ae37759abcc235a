"""Reference timings with the real NNabla 1.39 (run under NNabla's Python).

    /tmp/nnref/bin/python benchmarks/ref_nnabla.py --json benchmarks/results/nnabla_ref.json
    /tmp/nnref/bin/python benchmarks/ref_nnabla.py --workloads W1,W2 --repeat 50

Seven training workloads (one step = forward + backward + solver update, on a
fixed random batch) and a per-function overhead test (100 chained
F.add_scalar / F.tanh on a (64, 10) variable, static graph built once,
forward() and backward() timed separately). Each workload runs in a fresh
child process so that peak RSS is its own; see harness.py for the timing rules.

JSON schema (written with --json):
    {"library": "nnabla", "version": "1.39.0", "meta": {...},
     "workloads": {"W1": {"ms_median": .., "ms_min": .., "ms_max": ..,
                          "images_per_s": .., "peak_rss_mb": .., "batch": ..,
                          "repeat": .., "warmup": ..}, ...},
     "overhead": {"add_scalar": {"forward_us": .., "backward_us": ..},
                  "tanh": {"forward_us": .., "backward_us": ..}}}

Training step, as in NNabla's tutorials:
    loss.forward(clear_no_need_grad=True); solver.zero_grad();
    loss.backward(clear_buffer=True); [solver.weight_decay(wd)]; solver.update()
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

LIBRARY = 'nnabla'


def version():
    import nnabla
    return nnabla.__version__


def setup():
    import logging
    import nnabla  # noqa: F401  (prints its INFO line once, then quiet)
    from nnabla.logger import logger
    logger.setLevel(logging.WARNING)


def use_device(ext_name):
    """For harness.py's --device: build every workload in NNabla's
    get_extension_context(ext_name) ('cudnn', 'cuda') and wait for the device
    after each step with the extension's synchronize, as NNabla's users time."""
    import nnabla as nn
    from nnabla.ext_utils import get_extension_context, import_extension_module
    nn.set_default_context(get_extension_context(ext_name))
    ext = import_extension_module(ext_name)
    return {'sync': lambda: ext.synchronize(device_id='0'), 'memory': dict,
            'device': "get_extension_context('%s')" % ext_name}


def _data(shape, n_classes, batch):
    import nnabla as nn
    rng = np.random.RandomState(0)
    x = nn.Variable(shape)
    t = nn.Variable((batch, 1))
    x.d = rng.rand(*shape).astype(np.float32)
    t.d = rng.randint(0, n_classes, size=(batch, 1))
    return x, t


def _trainer(loss, solver, wd=None):
    import nnabla as nn
    solver.set_parameters(nn.get_parameters())

    def step():
        loss.forward(clear_no_need_grad=True)
        solver.zero_grad()
        loss.backward(clear_buffer=True)
        if wd is not None:
            solver.weight_decay(wd)
        solver.update()
    return step


def _fresh():
    import nnabla as nn
    nn.clear_parameters()
    nn.seed(313)


def w1():
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    _fresh()
    x, t = _data((64, 1, 8, 8), 10, 64)
    y = PF.affine(x * (1.0 / 255), 10)
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return _trainer(loss, S.Sgd(0.01), wd=1e-5), 64


def w2():
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    _fresh()
    x, t = _data((64, 1, 8, 8), 10, 64)
    h = F.tanh(PF.affine(x * (1.0 / 255), 16, name='l1'))
    h = F.tanh(PF.affine(h, 32, name='l2'))
    h = F.tanh(PF.affine(h, 16, name='l3'))
    y = PF.affine(h, 10, name='l4')
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return _trainer(loss, S.Sgd(0.01), wd=1e-5), 64


def w3():
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    _fresh()
    x, t = _data((64, 1, 8, 8), 10, 64)
    image = x * (1.0 / 255)
    c1 = PF.convolution(image, 4, (3, 3), pad=(1, 1), stride=(2, 2), name='c1')
    c1 = F.tanh(PF.batch_normalization(c1, batch_stat=True, name='bn1'))
    c2 = PF.convolution(c1, 8, (3, 3), pad=(1, 1), name='c2')
    c2 = F.tanh(PF.batch_normalization(c2, batch_stat=True, name='bn2'))
    c2 = F.average_pooling(c2, (2, 2))
    fc3 = F.tanh(PF.affine(c2, 32, name='fc3'))
    y = PF.affine(fc3, 10, name='fc4')
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return _trainer(loss, S.Adam()), 64


def w4():
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    _fresh()
    x, t = _data((64, 1, 8, 8), 10, 64)
    image = x * (1.0 / 255)
    quads = [image[:, :, :4, :4], image[:, :, :4, 4:],
             image[:, :, 4:, :4], image[:, :, 4:, 4:]]
    h = nn.Variable.from_numpy_array(np.zeros((64, 32), np.float32))
    for q in quads:
        xt = F.reshape(q, (64, 16))
        h = F.tanh(PF.affine(F.concatenate(xt, h, axis=1), 32, name='rnn'))
    y = PF.affine(h, 10, name='fc')
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return _trainer(loss, S.Adam()), 64


def w5(batch=128):
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    _fresh()
    x, t = _data((batch, 1, 28, 28), 10, batch)
    h = PF.convolution(x, 20, (5, 5), name='conv1')
    h = F.relu(F.max_pooling(h, (2, 2)))
    h = PF.convolution(h, 50, (5, 5), name='conv2')
    h = F.relu(F.max_pooling(h, (2, 2)))
    h = F.relu(PF.affine(h, 500, name='fc3'))
    y = PF.affine(h, 10, name='fc4')
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return _trainer(loss, S.Adam()), batch


def w6(batch=64, widths=(16, 32, 64)):
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    _fresh()
    x, t = _data((batch, 3, 32, 32), 10, batch)

    def conv_bn(h, c, stride, name):
        with nn.parameter_scope(name):
            h = PF.convolution(h, c, (3, 3), pad=(1, 1), stride=(stride, stride),
                               with_bias=False)
            return PF.batch_normalization(h, batch_stat=True)

    def block(h, c, stride, name):
        with nn.parameter_scope(name):
            r = F.relu(conv_bn(h, c, stride, 'a'))
            r = conv_bn(r, c, 1, 'b')
            if stride != 1 or h.shape[1] != c:
                h = PF.convolution(h, c, (1, 1), stride=(stride, stride),
                                   with_bias=False, name='short')
            return F.relu(r + h)

    h = F.relu(conv_bn(x, widths[0], 1, 'stem'))
    for si, c in enumerate(widths):
        for bi in range(2):
            stride = 2 if (si > 0 and bi == 0) else 1
            h = block(h, c, stride, 's%d_b%d' % (si, bi))
    h = F.global_average_pooling(h)
    y = PF.affine(h, 10, name='fc')
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return _trainer(loss, S.Momentum(0.1, 0.9)), batch


def w7(batch=256):
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    _fresh()
    x, t = _data((batch, 784), 10, batch)
    h = F.relu(PF.affine(x, 1024, name='fc1'))
    h = F.relu(PF.affine(h, 1024, name='fc2'))
    y = PF.affine(h, 10, name='fc3')
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return _trainer(loss, S.Adam()), batch


WORKLOADS = {'W1': w1, 'W2': w2, 'W3': w3, 'W4': w4, 'W5': w5, 'W6': w6,
             'W7': w7}


def overhead(n=100, repeat=300):
    import nnabla as nn
    import nnabla.functions as F
    res = {}
    for name, fn in (('add_scalar', lambda h: F.add_scalar(h, 0.5)),
                     ('tanh', F.tanh)):
        x = nn.Variable((64, 10), need_grad=True)
        x.d = np.random.RandomState(0).randn(64, 10).astype(np.float32) * 0.1
        h = x
        for _ in range(n):
            h = fn(h)
        res[name] = {
            'forward_us': harness.time_chain(h.forward, n, repeat),
            'backward_us': harness.time_chain(h.backward, n, repeat),
        }
    return res


if __name__ == '__main__':
    harness.main(sys.modules[__name__])
