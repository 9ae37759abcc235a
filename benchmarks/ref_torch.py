"""Reference timings with PyTorch (CPU, 2 threads; or a GPU), for comparison.

    python3 benchmarks/ref_torch.py --json benchmarks/results/torch_ref.json
    python3 benchmarks/ref_torch.py --workloads W5,W6 --repeat 20
    python3 benchmarks/ref_torch.py --device cuda --batch 512 --workloads W5,W6,W7

The same seven training workloads as ref_nnabla.py (one step = forward +
backward + optimizer step on a fixed random batch), with the same shapes,
layer sizes, initial scaling of the digit images (x / 255), losses (mean
softmax cross-entropy) and solvers (SGD lr 0.01 + weight decay 1e-5, Adam
defaults, Momentum SGD lr 0.1 momentum 0.9). torch.set_num_threads(2).

The overhead test mirrors NNabla's: 100 chained `h + 0.5` / `torch.tanh` on a
(64, 10) tensor that requires grad; "forward_us" times building the chain
(eager execution, graph recorded), "backward_us" times h.backward(g,
retain_graph=True).

JSON schema (written with --json), see harness.py:
    {"library": "torch", "version": "2.x", "meta": {...},
     "workloads": {"W1": {"ms_median": .., "ms_min": .., "ms_max": ..,
                          "images_per_s": .., "peak_rss_mb": .., "batch": ..,
                          "repeat": .., "warmup": ..}, ...},
     "overhead": {"add_scalar": {"forward_us": .., "backward_us": ..},
                  "tanh": {"forward_us": .., "backward_us": ..}}}
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

LIBRARY = 'torch'
THREADS = 2
META = {'threads': THREADS}
DEVICE = 'cpu'           # harness.py's --device cuda moves data and models there
CUDNN_BENCHMARK = True   # on the GPU, as PyTorch users set it for fixed shapes


def version():
    import torch
    return torch.__version__


def setup():
    import torch
    torch.set_num_threads(THREADS)
    torch.manual_seed(313)


def use_device(name):
    """For harness.py's --device: 'cuda' (torch.backends.cudnn.benchmark set to
    CUDNN_BENCHMARK, torch.cuda.synchronize after each step, peak memory of
    PyTorch's caching allocator) or 'cpu' (as without --device)."""
    import torch
    global DEVICE
    DEVICE = name
    if name != 'cuda':
        return {'sync': lambda: None, 'memory': dict,
                'device': 'cpu, %d threads' % torch.get_num_threads()}
    torch.backends.cudnn.benchmark = CUDNN_BENCHMARK
    return {'sync': torch.cuda.synchronize,
            'memory': lambda: {'gpu_mb': torch.cuda.max_memory_reserved() / 2**20,
                               'gpu_mb_allocated': torch.cuda.max_memory_allocated() / 2**20},
            'device': 'cuda, %s, torch.backends.cudnn.benchmark=%s' % (
                torch.cuda.get_device_name(), CUDNN_BENCHMARK)}


def _data(shape, n_classes, batch):
    import torch
    rng = np.random.RandomState(0)
    x = torch.from_numpy(rng.rand(*shape).astype(np.float32))
    t = torch.from_numpy(rng.randint(0, n_classes, size=(batch,)).astype(np.int64))
    return x.to(DEVICE), t.to(DEVICE)


def _on_device(model):
    # Before the optimizer is made, so that it holds the parameters that train.
    return model.to(DEVICE)


def _trainer(model, opt, x, t):
    import torch.nn.functional as Fn

    def step():
        opt.zero_grad()
        loss = Fn.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
    return step


def _sgd_wd(model):
    import torch
    return torch.optim.SGD(_on_device(model).parameters(), lr=0.01, weight_decay=1e-5)


def _adam(model):
    import torch
    return torch.optim.Adam(_on_device(model).parameters())


def _scaled(body):
    import torch.nn as tnn

    class Scaled(tnn.Module):
        def __init__(self):
            super().__init__()
            self.body = body

        def forward(self, x):
            return self.body(x * (1.0 / 255))
    return Scaled()


def w1():
    import torch.nn as tnn
    x, t = _data((64, 1, 8, 8), 10, 64)
    model = _scaled(tnn.Sequential(tnn.Flatten(), tnn.Linear(64, 10)))
    return _trainer(model, _sgd_wd(model), x, t), 64


def w2():
    import torch.nn as tnn
    x, t = _data((64, 1, 8, 8), 10, 64)
    model = _scaled(tnn.Sequential(
        tnn.Flatten(), tnn.Linear(64, 16), tnn.Tanh(), tnn.Linear(16, 32),
        tnn.Tanh(), tnn.Linear(32, 16), tnn.Tanh(), tnn.Linear(16, 10)))
    return _trainer(model, _sgd_wd(model), x, t), 64


def w3():
    import torch.nn as tnn
    x, t = _data((64, 1, 8, 8), 10, 64)
    model = _scaled(tnn.Sequential(
        tnn.Conv2d(1, 4, 3, stride=2, padding=1), tnn.BatchNorm2d(4), tnn.Tanh(),
        tnn.Conv2d(4, 8, 3, padding=1), tnn.BatchNorm2d(8), tnn.Tanh(),
        tnn.AvgPool2d(2), tnn.Flatten(), tnn.Linear(32, 32), tnn.Tanh(),
        tnn.Linear(32, 10)))
    return _trainer(model, _adam(model), x, t), 64


def w4():
    import torch
    import torch.nn as tnn

    class RNN(tnn.Module):
        def __init__(self):
            super().__init__()
            self.cell = tnn.Linear(16 + 32, 32)
            self.fc = tnn.Linear(32, 10)

        def forward(self, x):
            x = x * (1.0 / 255)
            n = x.shape[0]
            h = torch.zeros(n, 32, device=x.device)
            for q in (x[:, :, :4, :4], x[:, :, :4, 4:],
                      x[:, :, 4:, :4], x[:, :, 4:, 4:]):
                h = torch.tanh(self.cell(torch.cat((q.reshape(n, 16), h), 1)))
            return self.fc(h)
    x, t = _data((64, 1, 8, 8), 10, 64)
    model = RNN()
    return _trainer(model, _adam(model), x, t), 64


def w5(batch=128):
    import torch.nn as tnn
    x, t = _data((batch, 1, 28, 28), 10, batch)
    model = tnn.Sequential(
        tnn.Conv2d(1, 20, 5), tnn.MaxPool2d(2), tnn.ReLU(),
        tnn.Conv2d(20, 50, 5), tnn.MaxPool2d(2), tnn.ReLU(),
        tnn.Flatten(), tnn.Linear(800, 500), tnn.ReLU(), tnn.Linear(500, 10))
    return _trainer(model, _adam(model), x, t), batch


def w6(batch=64, widths=(16, 32, 64)):
    import torch
    import torch.nn as tnn

    def conv_bn(cin, cout, stride):
        return tnn.Sequential(
            tnn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
            tnn.BatchNorm2d(cout))

    class Block(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.a = conv_bn(cin, cout, stride)
            self.b = conv_bn(cout, cout, 1)
            self.short = None
            if stride != 1 or cin != cout:
                self.short = tnn.Conv2d(cin, cout, 1, stride=stride, bias=False)

        def forward(self, x):
            r = self.b(torch.relu(self.a(x)))
            s = x if self.short is None else self.short(x)
            return torch.relu(r + s)

    layers = [conv_bn(3, widths[0], 1), tnn.ReLU()]
    cin = widths[0]
    for si, c in enumerate(widths):
        for bi in range(2):
            layers.append(Block(cin, c, 2 if (si > 0 and bi == 0) else 1))
            cin = c
    layers += [tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(widths[-1], 10)]
    model = _on_device(tnn.Sequential(*layers))
    x, t = _data((batch, 3, 32, 32), 10, batch)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return _trainer(model, opt, x, t), batch


def w7(batch=256):
    import torch.nn as tnn
    x, t = _data((batch, 784), 10, batch)
    model = tnn.Sequential(
        tnn.Linear(784, 1024), tnn.ReLU(), tnn.Linear(1024, 1024), tnn.ReLU(),
        tnn.Linear(1024, 10))
    return _trainer(model, _adam(model), x, t), batch


WORKLOADS = {'W1': w1, 'W2': w2, 'W3': w3, 'W4': w4, 'W5': w5, 'W6': w6,
             'W7': w7}


def overhead(n=100, repeat=300):
    import torch
    res = {}
    for name, fn in (('add_scalar', lambda h: h + 0.5), ('tanh', torch.tanh)):
        x = (torch.from_numpy(np.random.RandomState(0).randn(64, 10)
                              .astype(np.float32)) * 0.1).requires_grad_(True)
        g = torch.ones(64, 10)
        holder = {}

        def fwd():
            h = x
            for _ in range(n):
                h = fn(h)
            holder['h'] = h

        fwd()

        def bwd():
            holder['h'].backward(g, retain_graph=True)

        res[name] = {
            'forward_us': harness.time_chain(fwd, n, repeat),
            'backward_us': harness.time_chain(bwd, n, repeat),
        }
    return res


if __name__ == '__main__':
    harness.main(sys.modules[__name__])
