"""The seven workloads on nablite: the very code of ref_nnabla.py, run through the
``nnabla`` import alias, so both libraries execute identical scripts.

    python benchmarks/bench_nablite.py [--workloads W1,W2] [--json out.json]
    python benchmarks/bench_nablite.py --device cudnn --batch 512 --workloads W5,W6,W7
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nablite import compat  # noqa: E402

compat.install()

import harness  # noqa: E402
import ref_nnabla  # noqa: E402

if os.environ.get("NABLITE_BENCH_NO_CLEAR"):
    # For the memory comparison in run.py: the same steps without buffer clearing.
    def _trainer_no_clear(loss, solver, wd=None):
        import nnabla as nn
        solver.set_parameters(nn.get_parameters())

        def step():
            loss.forward()
            solver.zero_grad()
            loss.backward()
            if wd is not None:
                solver.weight_decay(wd)
            solver.update()
        return step
    ref_nnabla._trainer = _trainer_no_clear

LIBRARY = "nablite"
WORKLOADS = ref_nnabla.WORKLOADS
overhead = ref_nnabla.overhead


def version():
    import nablite
    return nablite.__version__


def setup():
    ref_nnabla.setup()


def use_device(ext_name):
    """ref_nnabla's GPU set-up (the same context and synchronize calls), plus
    what nablite's device is and how much memory CuPy's pool holds: the pool
    keeps freed blocks for reuse, so what it holds at the end is its peak."""
    hooks = ref_nnabla.use_device(ext_name)
    from nablite import backend
    if backend.device_sim_enabled():
        hooks['device'] += " on the simulated device (NABLITE_DEVICE_SIM=1: NumPy on the CPU)"
        return hooks
    import cupy
    pool = cupy.get_default_memory_pool()
    name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)['name']
    if isinstance(name, bytes):
        name = name.decode(errors='replace')
    hooks['memory'] = lambda: {'gpu_mb': pool.total_bytes() / 2**20,
                               'gpu_mb_in_use': pool.used_bytes() / 2**20}
    hooks['device'] += " on CuPy %s, %s" % (cupy.__version__, name)
    return hooks


if __name__ == "__main__":
    harness.main(sys.modules[__name__])
