"""The checks that run under ``mpiexec -n N`` (N = 1, 2, 4), in one launch.

Every rank makes the same deterministic data for every rank (seeded by rank),
so each can compute what a collective must give with NumPy alone. Each check
prints ``CHECK <name> <rank> ok`` or ``CHECK <name> <rank> FAIL <why>``;
tests/test_mpi_*.py read those lines. Checks raise AssertionError only after
their collectives, so a failing one does not leave the ranks out of step.
"""
import gc
import os
import sys
import tempfile
import time
import traceback

import numpy as np

import nablite as nn
import nablite.communicators as C
import nablite.functions as F
import nablite.parametric_functions as PF
import nablite.solvers as S
from nablite.ext_utils import get_extension_context
from nablite.functions.distributed import sync_batch_normalization

comm = C.MultiProcessDataParallelCommunicator(get_extension_context("cpu"))
comm.init()
RANK, SIZE = comm.rank, comm.size
CHECKS = []


def check(f):
    CHECKS.append(f)
    return f


def data(r, shape, tag, dtype=np.float32):
    return np.random.RandomState(1000 * tag + r).randn(*shape).astype(dtype)


def nd(a):
    return nn.NdArray.from_numpy_array(a)


def close(actual, desired, what, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, err_msg=what)


# -- collectives against NumPy ------------------------------------------------

@check
def basics():
    assert (comm.size, comm.rank, comm.local_rank) == (SIZE, RANK, RANK)  # one host
    assert comm.list_groups() == {"world": list(range(SIZE))}
    assert comm.find_group("world") == list(range(SIZE)) and comm.find_group("none") == []
    # barrier: no rank passes it before rank 0, late on purpose, has come
    marker = os.path.join(tempfile.gettempdir(), f"nablite-barrier-{os.getppid()}")  # one job
    if RANK == 0:
        time.sleep(0.3)
        open(marker, "w").close()
    comm.barrier()
    came = os.path.exists(marker)
    comm.barrier()
    if RANK == 0:
        os.remove(marker)
    assert came, "passed the barrier before rank 0 came to it"


@check
def all_reduce():
    shapes = [(3, 4), (5,), (2, 1, 3)]
    for division in (False, True):
        for inplace in (False, True):
            xs = [nd(data(RANK, s, i)) for i, s in enumerate(shapes)]
            xs.append(nd(data(RANK, (4,), 9, np.float64)))  # a second dtype: its own message
            comm.all_reduce(xs, division=division, inplace=inplace)
            for i, (x, s) in enumerate(zip(xs, shapes + [(4,)])):
                dt = np.float64 if i == 3 else np.float32
                want = sum(data(r, s, 9 if i == 3 else i, dt) for r in range(SIZE))
                close(x.data, want / SIZE if division else want,
                      f"all_reduce[{i}] division={division} inplace={inplace}")
                assert x.data.dtype == dt
    one = nd(data(RANK, (6,), 3))
    comm.all_reduce(one)  # a single NdArray, not a list
    close(one.data, sum(data(r, (6,), 3) for r in range(SIZE)), "all_reduce(NdArray)")


@check
def bcast():
    src = SIZE - 1
    xs = [nd(data(RANK, (2, 3), 1)), nd(data(RANK, (4,), 2))]
    comm.bcast(xs, src)
    close(xs[0].data, data(src, (2, 3), 1), "bcast[0]")
    close(xs[1].data, data(src, (4,), 2), "bcast[1]")


@check
def reduce():
    for division in (False, True):
        x = nd(data(RANK, (3, 2), 4))
        comm.reduce(x, 0, division=division)
        want = sum(data(r, (3, 2), 4) for r in range(SIZE)) / (SIZE if division else 1)
        close(x.data, want if RANK == 0 else data(RANK, (3, 2), 4), f"reduce division={division}")


@check
def all_gather():
    x = nd(data(RANK, (2, 2), 5))
    ys = [nd(np.zeros((2, 2), np.float32)) for _ in range(SIZE)]
    comm.all_gather(x, ys)
    for r, y in enumerate(ys):
        close(y.data, data(r, (2, 2), 5), f"all_gather[{r}]")


@check
def reduce_scatter():
    for division in (False, True):
        xs = [nd(data(RANK, (3,), 10 + i)) for i in range(SIZE)]
        y = nd(np.zeros(3, np.float32))
        comm.reduce_scatter(xs, y, division=division)
        want = sum(data(r, (3,), 10 + RANK) for r in range(SIZE)) / (SIZE if division else 1)
        close(y.data, want, f"reduce_scatter division={division}")


@check
def groups():
    even = [r for r in range(SIZE) if r % 2 == 0]
    assert comm.new_group(("even", even)) == "even"
    assert comm.find_group("even") == even
    assert comm.list_groups() == {"world": list(range(SIZE)), "even": even}
    x = nd(data(RANK, (4,), 6))
    comm.all_reduce(x, division=True, group="even")
    want = (sum(data(r, (4,), 6) for r in even) / len(even)) if RANK in even \
        else data(RANK, (4,), 6)
    close(x.data, want, "all_reduce over the group 'even'")
    comm.bcast(x, len(even) - 1, group="even")  # src is a rank within the group
    if RANK in even:
        close(x.data, sum(data(r, (4,), 6) for r in even) / len(even), "bcast in 'even'")
    # reduce, all_gather and reduce_scatter over the group; the others are left alone
    x = nd(data(RANK, (3,), 41))
    comm.reduce(x, 0, group="even")  # into the group's rank 0 (world rank 0)
    close(x.data, sum(data(r, (3,), 41) for r in even) if RANK == 0 else data(RANK, (3,), 41),
          "reduce in 'even'")
    ys = [nd(np.zeros(3, np.float32)) for _ in even]
    comm.all_gather(nd(data(RANK, (3,), 42)), ys, group="even")
    for i, y in enumerate(ys):
        close(y.data, data(even[i], (3,), 42) if RANK in even else np.zeros(3),
              f"all_gather in 'even'[{i}]")
    y = nd(np.zeros(3, np.float32))
    comm.reduce_scatter([nd(data(RANK, (3,), 43 + i)) for i in range(len(even))], y,
                        group="even")
    want = sum(data(r, (3,), 43 + even.index(RANK)) for r in even) if RANK in even \
        else np.zeros(3)
    close(y.data, want, "reduce_scatter in 'even'")


@check
def allreduce_registered():
    params = {f"p{i}": nn.Variable.from_numpy_array(data(RANK, (2, i + 1), 20 + i),
                                                     need_grad=True) for i in range(3)}
    for i, v in enumerate(params.values()):
        v.g = data(RANK, v.shape, 30 + i)
    comm.clear_context_parameters()
    comm.add_context_and_parameters((get_extension_context("cpu"), params))
    comm.allreduce(division=True)
    comm.clear_context_parameters()
    for i, v in enumerate(params.values()):
        close(v.g, sum(data(r, v.shape, 30 + i) for r in range(SIZE)) / SIZE,
              f"allreduce p{i}")


@check
def bad_arguments():
    v = nn.Variable((2,))
    for call, exc, words in [
        (lambda: comm.all_reduce(v), TypeError, "pass x.data or x.grad"),
        (lambda: comm.all_reduce([v.data], group="nope"), ValueError, "no group named 'nope'"),
        (lambda: comm.bcast(v.data, SIZE), ValueError, "src must be a rank of the group"),
        (lambda: comm.all_gather(v.data, [v.data] * (SIZE + 1)), ValueError, "ndarray_list"),
        (lambda: comm.new_group(("world", [0])), ValueError, "exists already"),
        (lambda: comm.new_group(("g", [SIZE])), ValueError, "distinct ranks"),
        (lambda: comm.all_reduce_callback([v.grad], 0), ValueError, "pack_size"),
    ]:
        try:
            call()
        except exc as e:
            assert words in str(e), (words, str(e))
        else:
            raise AssertionError(f"no {exc.__name__} for {words}")


@check
def create_communicator():
    from nablite.utils import communicator_util as cu
    made = cu.create_communicator(extension_module="cpu")
    if SIZE == 1:  # a one-process job is a single run
        assert made is None and cu.current_communicator() is None
    else:
        assert cu.current_communicator() is made and (made.size, made.rank) == (SIZE, RANK)
        x = nd(data(RANK, (3,), 7))
        made.all_reduce(x)  # a second communicator beside ``comm``
        close(x.data, sum(data(r, (3,), 7) for r in range(SIZE)), "create_communicator")
    assert cu.single_or_rankzero() is (RANK == 0)
    # extension_module='cudnn' by default, as in NNabla: without CuPy (and no
    # simulated device) it says so; on the simulated device each rank gets GPU = rank
    from nablite import _device_sim, backend
    try:
        cu.create_communicator()
    except RuntimeError as e:
        assert SIZE > 1 and "needs CuPy" in str(e) and "ignore_error=True" in str(e), str(e)
    else:
        assert SIZE == 1
    assert cu.create_communicator(ignore_error=True) is None or backend.cupy is not None
    backend.use_device_sim(True)
    try:
        gpu = cu.create_communicator()
        if SIZE > 1:
            assert cu.current_communicator() is gpu and gpu.rank == RANK
            assert gpu.ctx.backend_name == "cudnn" and gpu.ctx.device_id == str(RANK)
            with nn.context_scope(gpu.ctx):
                assert _device_sim.xp.cuda.Device().id == RANK, "device_id did not select"
                x = nd(data(RANK, (3,), 8))
                x._on(_device_sim.xp)
                gpu.all_reduce(x)
                close(x.data, sum(data(r, (3,), 8) for r in range(SIZE)), "cudnn communicator")
            assert _device_sim.xp.cuda.Device().id == 0, "context_scope did not restore GPU 0"
    finally:
        backend.use_device_sim(False)


# -- data-parallel training against one process on the concatenated batch -----

B, STEPS = 4, 3  # per-rank batch, steps


def digits_batch(step):
    """The concatenated batch of a step: SIZE * B samples, rank r's slice is its own."""
    rng = np.random.RandomState(50 + step)
    return (rng.rand(SIZE * B, 1, 8, 8).astype(np.float32),
            rng.randint(0, 10, (SIZE * B, 1)).astype(np.int32))


def mine(a):
    return a[RANK * B:(RANK + 1) * B]


def model(x, bn):
    """A small CNN; ``bn`` picks its normalization layer."""
    h = PF.convolution(x, 3, (3, 3), pad=(1, 1), name="conv")
    h = F.tanh(bn(h, "bn"))
    h = F.average_pooling(h, (2, 2))
    return PF.affine(h, 10, name="fc")


def train(batch, bn, reduce_grads, steps=STEPS):
    """Train ``steps`` Momentum steps from seed 7; returns the parameters."""
    nn.clear_parameters()
    nn.seed(7)
    x, t = nn.Variable((batch, 1, 8, 8)), nn.Variable((batch, 1))
    loss = F.mean(F.softmax_cross_entropy(model(x, bn), t))
    solver = S.Momentum(0.1, 0.9)
    solver.set_parameters(nn.get_parameters())
    for step in range(steps):
        xs, ts = digits_batch(step)
        x.d, t.d = (xs, ts) if batch == SIZE * B else (mine(xs), mine(ts))
        loss.forward(clear_no_need_grad=True)
        solver.zero_grad()
        reduce_grads(loss)
        solver.weight_decay(1e-4)
        solver.update()
    return {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}


def local_bn(h, name):
    return PF.batch_normalization(h, name=name)


def sync_bn(h, name):
    return PF.sync_batch_normalization(h, comm, name=name)


def grads():
    return [v.grad for v in nn.get_parameters().values()]


def explicit(loss):
    loss.backward(clear_buffer=True)
    comm.all_reduce(grads(), division=True)


def plain(loss):
    loss.backward(clear_buffer=True)


def through_callback(pack_size, how):
    """Reduce with all_reduce_callback. ``how``: "auto" passes the callback
    only (backward tells it of each function itself); "hook too" also passes
    its on_finish_function_backward as function_post_hook, as scripts written
    before backward did so still do (each function must count once);
    "list" splits the gradients between two callbacks passed as a list."""
    def run(loss):
        gs = grads()
        if how == "list":
            cbs = [comm.all_reduce_callback(gs[:2], pack_size, division=True),
                   comm.all_reduce_callback(gs[2:], pack_size, division=True)]
            loss.backward(clear_buffer=True, communicator_callbacks=cbs)
            return
        cb = comm.all_reduce_callback(gs, pack_size, division=True)
        hook = cb.on_finish_function_backward if how == "hook too" else None
        loss.backward(clear_buffer=True, communicator_callbacks=cb, function_post_hook=hook)
    return run


def same_params(a, b, what, rtol=1e-4, atol=1e-5):
    assert a.keys() == b.keys(), (sorted(a), sorted(b))
    for k in a:
        close(a[k], b[k], f"{what}: {k}", rtol=rtol, atol=atol)


@check
def data_parallel_equals_concatenated_batch():
    # Without batch statistics the gradient of the mean loss over the
    # concatenated batch is the mean of the ranks' gradients.
    def no_bn(h, name):
        return h
    parallel = train(B, no_bn, explicit)
    single = train(SIZE * B, no_bn, plain)
    same_params(parallel, single, "all_reduce(division=True) vs one process")


@check
def sync_bn_training_equals_concatenated_batch():
    parallel = train(B, sync_bn, explicit)
    single = train(SIZE * B, local_bn, plain)
    same_params(parallel, single, "sync BN data-parallel vs BN on the whole batch")


@check
def callbacks_equal_explicit_all_reduce():
    want = train(B, local_bn, explicit)
    for pack_size, how in [(1, "auto"), (50, "auto"), (10 ** 9, "auto"), (50, "hook too"),
                           (1, "list")]:
        got = train(B, local_bn, through_callback(pack_size, how))
        same_params(got, want, f"all_reduce_callback(pack_size={pack_size}), {how}",
                    rtol=1e-6, atol=1e-7)


def one_backward(reduce_grads):
    """One backward of the small CNN on this rank's batch, its gradients
    reduced by ``reduce_grads(loss, grad_arrays)``; {name: gradient}."""
    nn.clear_parameters()
    nn.seed(7)
    x, t = nn.Variable((B, 1, 8, 8)), nn.Variable((B, 1))
    loss = F.mean(F.softmax_cross_entropy(model(x, local_bn), t))
    xs, ts = digits_batch(0)
    x.d, t.d = mine(xs), mine(ts)
    loss.forward()
    params = nn.get_parameters()
    for v in params.values():
        v.g = 0
    reduce_grads(loss, [v.grad for v in params.values()])
    return {k: v.g.copy() for k, v in params.items()}


@check
def callback_sends_during_backward():
    # Parameters in backward order: fc (W, b), bn (beta, gamma), conv (W, b).
    # With one value per pack, fc's gradients leave when the next function
    # reports, bn's when conv reports, conv's (the last function's) at on_finish.
    def explicit_one(loss, gs):
        loss.backward()
        comm.all_reduce(gs, division=True)
    want = one_backward(explicit_one)
    names = list(want)
    assert [n.split("/")[0] for n in names] == ["conv", "conv", "bn", "bn", "fc", "fc"], names
    seen = {}

    def alone(loss, gs):  # no function_post_hook: backward tells the callback itself
        cb = seen["alone"] = comm.all_reduce_callback(gs, 1, division=True)
        loss.backward(communicator_callbacks=cb)

    def hook_too(loss, gs):  # the hook as well: each function still counts once
        cb = seen["hook too"] = comm.all_reduce_callback(gs, 1, division=True)
        loss.backward(communicator_callbacks=cb,
                      function_post_hook=cb.on_finish_function_backward)

    def as_list(loss, gs):  # conv's and bn's gradients in one callback, fc's in another
        seen["list"] = [comm.all_reduce_callback(gs[:4], 1, division=True),
                        comm.all_reduce_callback(gs[4:], 1, division=True)]
        loss.backward(communicator_callbacks=seen["list"])

    def as_tuple(loss, gs):
        seen["tuple"] = (comm.all_reduce_callback(gs[:4], 1, division=True),
                         comm.all_reduce_callback(gs[4:], 1, division=True))
        loss.backward(communicator_callbacks=seen["tuple"])

    early = {"alone": [2], "hook too": [2], "list": [1, 1], "tuple": [1, 1]}
    for how, run in [("alone", alone), ("hook too", hook_too), ("list", as_list),
                     ("tuple", as_tuple)]:
        got = one_backward(run)
        same_params(got, want, f"callback {how} vs explicit all_reduce", rtol=1e-6, atol=1e-7)
        cbs = seen[how] if isinstance(seen[how], (list, tuple)) else [seen[how]]
        counts = [cb._early_messages for cb in cbs]
        assert counts == early[how], f"{how}: messages sent before on_finish {counts}"
        assert all(cb._messages == [] for cb in cbs), how  # all waited for at on_finish
        # a function counted twice would look like a second consumer (shared weights)
        shared = [i for cb in cbs for i, g in enumerate(cb._nds) if g in comm._shared_grads]
        assert not shared, f"{how}: parameters taken for shared ones: {shared}"


@check
def shared_parameters_with_callback():
    # The same affine applied twice: its gradient gets two contributions. The
    # first backward finds out (and reduces them again, whole, at on_finish);
    # the second holds them back from the start.
    def run(use_callback, backwards=1):
        nn.clear_parameters()
        nn.seed(3)
        x = nn.Variable.from_numpy_array(data(RANK, (B, 5), 40))
        h = F.tanh(PF.affine(x, 5, name="shared"))
        y = F.sum(PF.affine(h, 5, name="shared") ** 2)
        y.forward()
        params = nn.get_parameters()
        held = []
        for _ in range(backwards):
            for v in params.values():
                v.g = 0
            if use_callback:
                cb = comm.all_reduce_callback([v.grad for v in params.values()], 1)
                held.append(sorted(cb._held))
                y.backward(communicator_callbacks=cb)
            else:
                y.backward()
                comm.all_reduce([v.grad for v in params.values()])
        return {k: v.g.copy() for k, v in params.items()}, held
    want, _ = run(False)
    got, held = run(True, backwards=2)
    same_params(got, want, "shared parameters", rtol=1e-6, atol=1e-6)
    assert held == [[], [0, 1]], held  # W and b held back the second time
    nn.clear_parameters()
    gc.collect()
    # forgotten with the arrays: a new array that reuses a freed one's id is not held
    assert len(comm._shared_grads) == 0, len(comm._shared_grads)


# -- a 'cudnn' communicator on the simulated device ----------------------------

def _on_sim_device(run):
    """``run(dcomm, dxp, counts)`` with a 'cudnn' communicator on the simulated
    device; ``counts`` tallies device->host copies (backend.to_numpy of device
    arrays) and host->device copies (the device module's asarray of host arrays)."""
    from nablite import _device_sim, backend
    from nablite.context import context_scope
    backend.use_device_sim(True)
    try:
        with _device_sim.count_transfers() as counts:
            ctx = get_extension_context("cudnn")
            dcomm = C.MultiProcessDataParallelCommunicator(ctx)
            dcomm.init()
            with context_scope(ctx):
                run(dcomm, _device_sim.xp, counts)
    finally:
        backend.use_device_sim(False)


@check
def device_collectives():
    def run(dcomm, dxp, counts):
        shapes = [(3, 4), (5,), (2, 1, 3)]
        for inplace in (False, True):
            xs = [nd(data(RANK, s, i)) for i, s in enumerate(shapes)]
            xs.append(nd(data(RANK, (4,), 9, np.float64)))  # a second dtype: its own message
            for x in xs:
                x._on(dxp)  # the newest copies on the device
            counts.update(to_host=0, to_device=0)
            dcomm.all_reduce(xs, division=True, inplace=inplace)
            # one packed message per dtype, each across once each way; not per array
            assert counts == {"to_host": 2, "to_device": 2}, (inplace, counts)
            assert all(type(x._arr) is dxp.ndarray for x in xs), "results left the device"
            for i, (x, s) in enumerate(zip(xs, shapes + [(4,)])):
                dt = np.float64 if i == 3 else np.float32
                want = sum(data(r, s, 9 if i == 3 else i, dt) for r in range(SIZE)) / SIZE
                close(x.data, want, f"device all_reduce[{i}] inplace={inplace}")
        xs = [nd(data(RANK, (2, 3), 1)), nd(data(RANK, (4,), 2))]
        for x in xs:
            x._on(dxp)
        dcomm.bcast(xs, SIZE - 1)
        close(xs[0].data, data(SIZE - 1, (2, 3), 1), "device bcast")
        x = nd(data(RANK, (3, 2), 4))
        x._on(dxp)
        dcomm.reduce(x, 0)
        close(x.data, sum(data(r, (3, 2), 4) for r in range(SIZE)) if RANK == 0
              else data(RANK, (3, 2), 4), "device reduce")
        ys = [nd(np.zeros((2, 2), np.float32)) for _ in range(SIZE)]
        dcomm.all_gather(nd(data(RANK, (2, 2), 5)), ys)
        for r, y in enumerate(ys):
            assert type(y._arr) is dxp.ndarray
            close(y.data, data(r, (2, 2), 5), f"device all_gather[{r}]")
        y = nd(np.zeros(3, np.float32))
        dcomm.reduce_scatter([nd(data(RANK, (3,), 10 + i)) for i in range(SIZE)], y)
        close(y.data, sum(data(r, (3,), 10 + RANK) for r in range(SIZE)), "device reduce_scatter")
    _on_sim_device(run)


@check
def device_training_equals_cpu():
    def run(dcomm, dxp, counts):
        def explicit_on_device(loss):
            loss.backward(clear_buffer=True)
            dcomm.all_reduce(grads(), division=True)

        def callback_on_device(loss):
            cb = dcomm.all_reduce_callback(grads(), 50, division=True)
            loss.backward(clear_buffer=True, communicator_callbacks=cb)
        got = {"explicit": train(B, local_bn, explicit_on_device),
               "callback": train(B, local_bn, callback_on_device)}
        from nablite.context import context_scope
        with context_scope(get_extension_context("cpu")):
            want = train(B, local_bn, explicit)
        for how, params in got.items():
            same_params(params, want, f"device training, {how}", rtol=1e-5, atol=1e-6)
    _on_sim_device(run)


# -- sync batch normalization against batch normalization on the whole batch ---

@check
def sync_bn_function():
    shape, axes = (3, 4, 2, 2), [1]  # per-rank batch 3 -> SIZE * 3 together
    stat = (1, 4, 1, 1)
    rng = np.random.RandomState(60)
    x_all = rng.randn(SIZE * 3, *shape[1:]).astype(np.float32) * 2 + 1
    gy_all = rng.randn(SIZE * 3, *shape[1:]).astype(np.float32)
    beta0, gamma0 = rng.randn(*stat).astype(np.float32), rng.rand(*stat).astype(np.float32) + .5
    for output_stat in (False, True):
        def run(f, x, gy, extra):
            vs = [nn.Variable.from_numpy_array(a, need_grad=True)
                  for a in (x, beta0, gamma0)]
            rm = nn.Variable.from_numpy_array(np.zeros(stat, np.float32))
            rv = nn.Variable.from_numpy_array(np.ones(stat, np.float32))
            out = f(*vs, rm, rv, *extra, axes=axes, decay_rate=0.7, output_stat=output_stat)
            y = out[0] if output_stat else out
            if output_stat:  # the statistics are shared: each rank adds its share of them
                share = 1.0 / SIZE if f is sync_batch_normalization else 1.0
                loss = F.sum(y * nn.Variable.from_numpy_array(gy)) \
                    + share * (F.sum(out[1] ** 2) + F.sum(out[2]))
            else:
                loss = F.sum(y * nn.Variable.from_numpy_array(gy))
            for v in vs:
                v.g = 0
            loss.forward()
            loss.backward()
            return y.d.copy(), [v.g.copy() for v in vs], rm.d.copy(), rv.d.copy()
        y, (gx, gb, gg), rm, rv = run(sync_batch_normalization, mine3(x_all), mine3(gy_all),
                                      [comm])
        y1, (gx1, gb1, gg1), rm1, rv1 = run(F.batch_normalization, x_all, gy_all, [])
        what = f"sync BN output_stat={output_stat}"
        close(y, mine3(y1), f"{what}: y", 1e-4, 1e-5)
        close(gx, mine3(gx1), f"{what}: x grad", 1e-4, 1e-5)
        close(rm, rm1, f"{what}: running mean", 1e-5, 1e-6)
        close(rv, rv1, f"{what}: running variance", 1e-5, 1e-6)
        # beta/gamma gradients are this rank's share; their sum is the whole batch's
        local_gb, local_gg = nd(gb.copy()), nd(gg.copy())
        comm.all_reduce([local_gb, local_gg])
        close(local_gb.data, gb1, f"{what}: sum of beta grads", 1e-4, 1e-5)
        close(local_gg.data, gg1, f"{what}: sum of gamma grads", 1e-4, 1e-5)
        if SIZE > 1:
            assert not np.allclose(gb, gb1), "beta's gradient is local, not reduced"
    if SIZE > 1:  # nn.grad would differentiate the local statistics: refused
        xv = nn.Variable.from_numpy_array(mine3(x_all), need_grad=True)
        y = sync_batch_normalization(xv, None, None, None, None, comm)
        try:
            nn.grad([y], [xv])
        except NotImplementedError as e:
            assert "nn.grad through batch statistics of several processes" in str(e)
        else:
            raise AssertionError("nn.grad through multi-process sync BN did not raise")
    # batch_stat=False normalizes with the running statistics, exchanging nothing
    x = nn.Variable.from_numpy_array(mine3(x_all))
    rm, rv = (nn.Variable.from_numpy_array(np.full(stat, v, np.float32)) for v in (.5, 2.))
    b, g = (nn.Variable.from_numpy_array(a) for a in (beta0, gamma0))
    y = sync_batch_normalization(x, b, g, rm, rv, comm, batch_stat=False)
    y.forward()
    close(y.d, (mine3(x_all) - .5) / np.sqrt(2 + 1e-5) * gamma0 + beta0, "batch_stat=False")


def mine3(a):
    return a[RANK * 3:(RANK + 1) * 3]


@check
def sync_bn_in_a_group():
    even = [r for r in range(SIZE) if r % 2 == 0]
    if "even" not in comm.list_groups():
        comm.new_group(("even", even))
    if RANK not in even:
        return
    x_all = np.random.RandomState(61).randn(SIZE * 3, 2).astype(np.float32)
    mine_even = np.concatenate([x_all[r * 3:(r + 1) * 3] for r in even])
    x = nn.Variable.from_numpy_array(mine3(x_all))
    y = sync_batch_normalization(x, None, None, None, None, comm, group="even")
    y.forward()
    ref = nn.Variable.from_numpy_array(mine_even)
    y1 = F.batch_normalization(ref, None, None, None, None)
    y1.forward()
    i = even.index(RANK)
    close(y.d, y1.d[i * 3:(i + 1) * 3], "sync BN over the group 'even'", 1e-4, 1e-5)


def main():
    names = sys.argv[1:]
    for f in CHECKS:
        if names and f.__name__ not in names:
            continue
        try:
            f()
            line = f"CHECK {f.__name__} {RANK} ok"
        except AssertionError:
            why = traceback.format_exc().strip().replace("\n", " | ")
            line = f"CHECK {f.__name__} {RANK} FAIL {why}"
        sys.stdout.write(line + "\n")  # one write: lines of several ranks do not mix
        sys.stdout.flush()


main()
