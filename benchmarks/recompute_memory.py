"""Peak memory of one training step with and without ``nn.recompute``.

    python benchmarks/recompute_memory.py [--layers 8] [--width 1024] [--batch 256]

A deep MLP of blocks tanh(affine(tanh(affine(h)))); with recompute the
activations inside each block are freed after their last use in forward and
computed again in backward from the block's input (the block outputs are the
checkpoints). Peak memory is what
tracemalloc sees NumPy allocate during the step (forward with
clear_no_need_grad, backward with clear_buffer); the gradients of the two
runs are compared for equality.
"""
import argparse
import time
import tracemalloc

import numpy as np

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF


def step(layers, width, batch, recompute):
    nn.clear_parameters()
    nn.seed(0)
    x = nn.Variable.from_numpy_array(np.random.RandomState(0).randn(batch, width)
                                     .astype(np.float32))
    h = x
    for i in range(layers):
        with nn.parameter_scope(f"block{i}"):
            with nn.recompute(recompute):
                inner = PF.affine(F.tanh(PF.affine(h, width, name="fc1")), width, name="fc2")
            h = F.tanh(inner)
    loss = F.mean(PF.affine(h, 1, name="out"))
    params = nn.get_parameters()
    loss.forward(clear_no_need_grad=True)  # warm-up: parameters allocated
    loss.backward(clear_buffer=True)
    for p in params.values():
        p.grad.zero()
    tracemalloc.start()
    start = time.perf_counter()
    loss.forward(clear_no_need_grad=True)
    loss.backward(clear_buffer=True)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20, seconds, {k: p.g.copy() for k, p in params.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", type=int, default=8, help="blocks")
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--batch", type=int, default=256)
    a = p.parse_args()
    plain = step(a.layers, a.width, a.batch, False)
    again = step(a.layers, a.width, a.batch, True)
    same = all(np.array_equal(plain[2][k], again[2][k]) for k in plain[2])
    print(f"{a.layers} blocks tanh(affine(tanh(affine {a.width}))), batch {a.batch}")
    print("| | peak MB in the step | step s |")
    print("|---|---:|---:|")
    print(f"| without recompute | {plain[0]:.1f} | {plain[1]:.3f} |")
    print(f"| with recompute | {again[0]:.1f} | {again[1]:.3f} |")
    print(f"gradients identical: {same}")


if __name__ == "__main__":
    main()
