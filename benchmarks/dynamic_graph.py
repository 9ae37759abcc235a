"""Dynamic-graph cost: the tutorial's tanh MLP rebuilt under auto_forward every step.

    python benchmarks/dynamic_graph.py                 # nablite
    /path/to/py310/python benchmarks/dynamic_graph.py  # NNabla, if it imports there

One step = build the graph with PF/F under ``auto_forward`` (computing as it
goes), backward with clear_buffer, an SGD update. Prints µs per step.
"""
import time

import numpy as np

try:
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
except ImportError:
    import nablite as nn
    import nablite.functions as F
    import nablite.parametric_functions as PF
    import nablite.solvers as S


def net(x):
    h = F.tanh(PF.affine(x, 16, name="l1"))
    h = F.tanh(PF.affine(h, 32, name="l2"))
    h = F.tanh(PF.affine(h, 16, name="l3"))
    return PF.affine(h, 10, name="l4")


def main(steps=1000):
    rng = np.random.RandomState(0)
    x = nn.Variable.from_numpy_array(rng.rand(64, 64).astype(np.float32))
    t = nn.Variable.from_numpy_array(rng.randint(0, 10, (64, 1)))
    with nn.auto_forward():
        F.mean(F.softmax_cross_entropy(net(x), t))
    solver = S.Sgd(0.01)
    solver.set_parameters(nn.get_parameters())

    def step():
        with nn.auto_forward():
            loss = F.mean(F.softmax_cross_entropy(net(x), t))
        solver.zero_grad()
        loss.backward(clear_buffer=True)
        solver.update()

    for _ in range(50):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = (time.perf_counter() - start) / steps * 1e6
    print(f"{nn.__name__}: dynamic tanh-MLP step {per_step:.0f} µs")


if __name__ == "__main__":
    main()
