"""Measure the three costs that choose a stride-1 convolution's input-gradient path.

    python benchmarks/calibrate_conv.py

``functions/_conv_blocked.py`` compares (products + column copies) of the
flipped-kernel correlation against (products + col2im adds) of the scatter
path, from three per-element costs in ns: one flop of a column-block BLAS
product, one element copied into a column block, one element added back by
col2im. Only their ratios matter. This prints what this machine measures, next
to the named defaults in ``_conv_blocked.py``, so the defaults can be checked
(or replaced) on another machine.
"""
import time

import numpy as np

from nablite.functions import _conv_blocked


def best(f, repeat=20):
    f()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    rng = np.random.RandomState(0)
    # a column block of W6's shapes: (C*K, rows*OW*N) = (144, 1792), OC = 32
    w = rng.randn(32, 144).astype(np.float32)
    col = rng.randn(144, 1792).astype(np.float32)
    flop = best(lambda: w @ col) / (2 * 32 * 144 * 1792) * 1e9
    # copying windows into a column block: strided reads, contiguous writes
    src = rng.randn(16, 34, 34, 64).astype(np.float32)
    win = np.lib.stride_tricks.as_strided(src, (16, 3, 32, 3, 32, 64),
                                          (src.strides[0], src.strides[1], src.strides[1],
                                           src.strides[2], src.strides[2], src.strides[3]))
    dst = np.empty(win.shape, np.float32)
    copy = best(lambda: np.copyto(dst, win)) / dst.size * 1e9
    # col2im: adding a block back into overlapping windows
    target = np.zeros_like(src)
    twin = np.lib.stride_tricks.as_strided(target, win.shape, win.strides)
    add = best(lambda: np.add(twin[:, 0, :, 0], dst[:, 0, :, 0], out=twin[:, 0, :, 0]))
    add = add / dst[:, 0, :, 0].size * 1e9
    print("| cost (ns per element) | measured here | default in _conv_blocked.py |")
    print("|---|---:|---:|")
    print(f"| BLAS flop | {flop:.4f} | {_conv_blocked._NS_PER_FLOP} |")
    print(f"| column copy | {copy:.3f} | {_conv_blocked._NS_PER_COPY} |")
    print(f"| col2im add | {add:.3f} | {_conv_blocked._NS_PER_ADD} |")


if __name__ == "__main__":
    main()
