"""Graph execution: topological order, forward, backward, buffer clearing.

What running the graph up to a variable needs (the order of its functions,
which inputs want gradients, what clearing may free) is computed once and
cached on that variable as a plan. It stays valid until someone re-links the
graph (a parent is set, ``rewire_on``, ``clear_all_graph_links``) or changes a
``need_grad`` / ``persistent`` flag, which bumps ``_version``. Building new
functions on top never changes the graph below an existing variable, so it
invalidates nothing. The forward and backward loops inline what ``run_forward``
and ``NdArray._set`` do: they run once per function per step.

Devices: each function computes on its own ``xp`` (``Function.xp``, from the
context it was built in). A plan knows whether all its functions run on the
host (``host``: the loops below are the CPU's, unchanged) and whether they run
on more than one device (``mixed``). Otherwise inputs reach a device function
through ``NdArray._on(xp)``, which copies only when the newest copy is on the
other side; in a mixed graph, gradients cross between functions on the host.
"""
import contextlib
import functools
import sys
import weakref
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from . import backend
from ._array import F32_DTYPE as _F32_DTYPE, NdArray

auto_forward_enabled = False
recompute_enabled = False  # the flag new function outputs get (nn.recompute)
no_grad_enabled = False  # inside nn.no_grad(): dynamic-graph outputs are cut off
recording = None  # graph_def._Recorder noting each function built while networks record
_version = 0

_F16_DTYPE = np.dtype(np.float16)


def graph_changed():
    global _version
    _version += 1


# -- hooks every forward and backward calls (nn.set_function_pre_hook) ------------
_pre_hooks = {}
_post_hooks = {}


def set_function_pre_hook(key: str, function_pre_hook: Callable[[Any], object]) -> None:
    """Call ``function_pre_hook(function)`` before each function's forward and
    backward, in every graph, until ``unset_function_pre_hook(key)``."""
    _pre_hooks[key] = function_pre_hook


def set_function_post_hook(key: str, function_post_hook: Callable[[Any], object]) -> None:
    """Call ``function_post_hook(function)`` after each function's forward and
    backward, in every graph, until ``unset_function_post_hook(key)``."""
    _post_hooks[key] = function_post_hook


def unset_function_pre_hook(key: str) -> None:
    _pre_hooks.pop(key, None)


def unset_function_post_hook(key: str) -> None:
    _post_hooks.pop(key, None)


def hooks_around(global_pres, pre_hook, post_hook, global_posts):
    """The hooks to run before and after each step, as NNabla orders them: the
    global pre-hooks before the call's own, the global post-hooks after it
    (function hooks here, solver hooks in _solver_base)."""
    return ([h for h in (*global_pres, pre_hook) if h is not None],
            [h for h in (post_hook, *global_posts) if h is not None])


def _with_global_hooks(pre_hook, post_hook):
    """A forward or backward call's hooks with the global ones, each one callable."""
    pres, posts = hooks_around(_pre_hooks.values(), pre_hook, post_hook, _post_hooks.values())

    def run_all(hooks):
        if not hooks:
            return None

        def hook(f):
            for h in hooks:
                h(f)
        return hook
    return run_all(pres), run_all(posts)


# need_grad set by hand on a function's output: backward sends a gradient through
# it exactly when the flag says so, whatever its inputs want (as in NNabla: False
# stops the gradient, True asks for its .g). Other outputs follow their inputs.
set_on_outputs = weakref.WeakKeyDictionary()


def input_wants_grad(x, upstream):
    """Whether backward computes a gradient for ``x``, an input of some function;
    ``upstream`` is whether a variable above it wants one (for an output)."""
    if x._parent is None:
        return x._need_grad
    return set_on_outputs.get(x, upstream) if set_on_outputs else upstream


def get_auto_forward() -> bool:
    """Whether functions run as soon as they are called (dynamic graphs)."""
    return auto_forward_enabled


def set_auto_forward(auto: bool) -> None:
    """Switch dynamic-graph mode on or off globally."""
    global auto_forward_enabled
    auto_forward_enabled = bool(auto)


@contextlib.contextmanager
def auto_forward(auto: bool = True) -> Iterator[None]:
    """Run every function as soon as it is called inside the block."""
    global auto_forward_enabled
    previous, auto_forward_enabled = auto_forward_enabled, bool(auto)
    try:
        yield
    finally:
        auto_forward_enabled = previous


def set_global_recompute(recompute: bool) -> None:
    """Mark every function output created from now on for recomputation."""
    global recompute_enabled
    recompute_enabled = bool(recompute)


def get_global_recompute() -> bool:
    return recompute_enabled


def recompute_fn(recompute_: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator: the outputs of the functions the decorated function calls are
    recomputed in backward (``with recompute(recompute_)`` around each call)."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with recompute(recompute_):
                return fn(*args, **kwargs)
        return wrapped
    return decorate


@contextlib.contextmanager
def recompute(recompute_: bool = True) -> Iterator[None]:
    """Outputs of functions called inside the block are recomputed in backward:
    forward frees their data after its last use, backward runs their function
    again when a gradient needs them. Blocks nest."""
    global recompute_enabled
    previous, recompute_enabled = recompute_enabled, bool(recompute_)
    try:
        yield
    finally:
        recompute_enabled = previous


class _Plan:
    """What running the graph up to one root needs, computed once per graph version:
    the forward order, which inputs of each function want a gradient, the
    functions backward must visit, and per clearing mode the forward steps with
    the buffers to free after each (``releases``).
    """
    __slots__ = ("version", "order", "forward_steps", "needs", "backward_steps", "fused_steps",
                 "releases", "consumed", "recompute", "stateful", "host", "mixed", "unstepped",
                 "held", "kept")

    def __init__(self, root):
        self.version = _version
        self.order = _topological_order(root)
        self.held = _held_by_user(self.order)
        # (function, inputs, the weakref of its only output or None, whether an
        # output is one the user holds, whose buffer forward reuses: see _store)
        self.forward_steps = [(f, f.inputs, f._outputs[0] if len(f._outputs) == 1 else None,
                               any(_held(o(), root) for o in f._outputs))
                              for f in self.order]
        self.needs = _need_flags(self.order)
        self.backward_steps = [_step(f, n) for f, n in zip(reversed(self.order),
                                                           reversed(self.needs)) if True in n]
        # outputs whose gradient is wanted (need_grad set on them) though their
        # maker's backward does not run: backward stores their .g at the end
        stepping = {id(f) for f, _, _ in self.backward_steps}
        self.unstepped = list({id(x): x for _, _, targets in self.backward_steps
                               for _, x, leaf in targets
                               if not leaf and id(x._parent) not in stepping}.values())
        # inputs of functions whose backward leaves their gradients as they are
        # (``F.sink(..., one_input_grad=False)``; see _unwritten_grad)
        self.consumed = {id(x) for f, _, _ in self.backward_steps if f.leaves_input_grads
                         for x in f.inputs}
        # inputs no clearing frees (F.sink's: Function.keeps_inputs), or None
        self.kept = {id(x) for f in self.order if f.keeps_inputs for x in f.inputs} or None
        self.fused_steps = None
        self.releases = {}
        # intermediates forward frees and backward computes again (Variable.recompute)
        self.recompute = any(x._recompute and x._parent is not None and x is not root
                             for f in self.order for x in f.inputs)
        # what functions keep from forward for backward (Function.forward_state),
        # as (the function's __dict__, {name: None}) to drop it with one update
        self.stateful = [(vars(f), dict.fromkeys(f.forward_state))
                         for f in self.order if f.forward_state]
        modules = {f.xp for f in self.order}
        self.host = modules <= {np}  # every function computes with NumPy
        self.mixed = len(modules) > 1  # functions on more than one device

    def clearing_steps(self, root):
        """``backward_steps`` for ``backward(clear_buffer=True)``: a reduction of a
        per-sample loss (``F.mean(F.softmax_cross_entropy(y, t))``) becomes one step
        that hands the loss the reduction's gradient unbroadcast. Only when the
        buffers are cleared: the intermediate's gradient is never materialized.
        """
        if self.fused_steps is None:
            self.fused_steps = _fuse_reductions(self.order, self.backward_steps, root)
        return self.fused_steps


def _step(f, need):
    """A backward step: the function, its need flags, and (index, input, is_leaf)
    of each input whose gradient is wanted."""
    return f, need, [(i, x, x._parent is None) for i, (x, n) in enumerate(zip(f.inputs, need))
                     if n]


class _ReducedLoss:
    """The backward of ``reduce(loss(...))`` as one step (see ``_Plan.clearing_steps``).

    It looks like a function to the backward loop: the loss's inputs, the
    reduction's outputs. The loss's backward accepts a gradient that only
    broadcasts to its output, which the reduction gives without expanding it.
    """
    __slots__ = ("reduction", "loss", "mid", "inputs", "_outputs", "out_shapes", "xp", "need")

    def __init__(self, reduction, loss):
        self.reduction, self.loss, self.mid = reduction, loss, reduction.inputs[0]
        self.inputs, self._outputs = loss.inputs, reduction._outputs
        self.out_shapes, self.xp = reduction.out_shapes, loss.xp

    def backward(self, xp, xs, ys, gys):
        loss, mid = self.loss, self.mid
        loss.need = self.need
        y = mid._data._arr if xp is np else mid._data._on(xp)
        gxs = loss.backward(xp, xs, [y], [self.reduction.broadcastable_grad(xp, gys[0])])
        mid._data.clear()
        mid._grad.clear()
        return gxs


def _fuse_reductions(order, steps, root):
    uses = {}
    for f in order:
        for x in f.inputs:
            uses[id(x)] = uses.get(id(x), 0) + 1
    need_of = {id(f): need for f, need, _ in steps}
    fused, merged = [], set()
    for f, need, targets in steps:
        if id(f) in merged:
            continue
        if f.broadcastable_grad is not None and len(f.inputs) == 1:
            mid = f.inputs[0]
            loss = mid._parent
            if (loss is not None and loss.takes_broadcast_grad
                    and len(loss._outputs) == 1 and uses[id(mid)] == 1 and mid is not root
                    and not mid._persistent):
                loss_need = need_of.get(id(loss))
                if loss_need is not None:
                    fused.append(_step(_ReducedLoss(f, loss), loss_need))
                    merged.add(id(loss))
                    continue
        fused.append((f, need, targets))
    return fused


def forward_ranks(order):
    """Rank each function as NNabla's forward does: one deeper than its deepest
    input (building the graph ranks it as deep as that input: Function.setup)."""
    for f in order:
        if f.inputs:
            f.rank = 1 + max(x.rank for x in f.inputs)


def _plan(root):
    plan = root._order
    if plan is None or plan.version != _version:
        plan = root._order = _Plan(root)
    return plan


def order_of(root):
    """Functions up to ``root`` in a topological (forward) order, cached."""
    return _plan(root).order


def _topological_order(root):
    return topological_order([root])


def topological_order(outputs, stop=None):
    """Functions up to ``outputs`` in a forward order, not going above the
    variables in ``stop`` (nn.grad cuts the graph there for compositions)."""
    stop = set() if stop is None else {id(v) for v in stop}
    order, seen = [], set()
    stack = [(y._parent, False) for y in reversed(outputs)
             if y._parent is not None and id(y) not in stop]
    while stack:
        f, expanded = stack.pop()
        if expanded:
            order.append(f)
            continue
        if id(f) in seen:
            continue
        seen.add(id(f))
        stack.append((f, True))
        for x in reversed(f.inputs):
            p = x._parent
            if p is not None and id(p) not in seen and id(x) not in stop:
                stack.append((p, False))
    return order


def consumers(var):
    """Functions that take ``var`` as input (a gc scan: for introspection only)."""
    import gc
    from .function import Function
    return [f for f in gc.get_objects()
            if isinstance(f, Function) and any(x is var for x in f.inputs)]


def _held(y, root):
    """Whether forward writes ``y``'s values into its existing buffer, as NNabla
    does for every variable: a user who kept ``root.d`` (or a persistent
    variable's ``.d``) without copying sees the next forward's values."""
    return y is not None and (y is root or y._persistent)


def _store(y, a, root):
    """Store a forward result; for a root or persistent variable into its old
    buffer when something besides the variable still refers to that buffer (a
    kept ``loss.d``), so the holder sees the new values."""
    nd = y._data
    old = nd._arr
    if (old is not None and old is not a and (y is root or y._persistent)
            and sys.getrefcount(old) > 3):  # more than nd._arr, ``old`` and the call
        if (type(old) is type(a) and not isinstance(old, np.generic) and old.base is None
                and old.shape == a.shape and old.dtype == a.dtype):
            old[...] = a
            nd._zeroing = False
            return
        if isinstance(old, np.ndarray) and backend.is_device_array(a):
            # computed on a device: the kept host buffer gets the values when
            # they are next read on the host (NdArray._get)
            nd._set(a)
            nd._other = old
            return
    nd._set(a)


def run_forward(f, root=None):
    """Compute one function and store its outputs."""
    xp = f.xp
    xs = ([x._data._get() for x in f.inputs] if xp is np
          else [x._data._on(xp) for x in f.inputs])
    _store_outputs(f, f.forward(xp, *xs), root)


def _store_outputs(f, ys, root):
    """Store what ``f.forward`` returned (an array, or one per output) in its outputs."""
    if len(f._outputs) == 1:
        ys = (ys,)
    for o, a in zip(f._outputs, ys):
        y = o()
        if y is not None:
            _store(y, a, root)


def forward(root, clear_buffer=False, clear_no_need_grad=False, pre_hook=None, post_hook=None):
    if _pre_hooks or _post_hooks:
        pre_hook, post_hook = _with_global_hooks(pre_hook, post_hook)
    plan = root._order
    if plan is None or plan.version != _version:
        plan = _plan(root)
    key = (clear_buffer, clear_no_need_grad)  # True/1 and False/0 are the same key
    steps = plan.releases.get(key)
    if steps is None:  # the forward steps, each with the arrays to free after it
        forward_ranks(plan.order)
        release = (_releasable(plan, root, clear_buffer, clear_no_need_grad)
                   if any(key) or plan.recompute else [() for _ in plan.order])
        steps = plan.releases[key] = [step + (tuple(rel),)
                                      for step, rel in zip(plan.forward_steps, release)]
    if not (pre_hook or post_hook) and plan.host:
        for f, inputs, single, held, release in steps:
            ys = f.forward(f.xp, *[x._data._get() for x in inputs])
            if single is not None:
                y = single()
                if y is not None:
                    nd = y._data
                    # a held variable's old buffer that someone still refers to
                    # (more than nd._arr and getrefcount's argument) gets the values
                    if held and nd._arr is not None and sys.getrefcount(nd._arr) > 2:
                        _store(y, ys, root)
                    else:
                        nd._arr = ys
                        nd._zeroing = False
            else:
                _store_outputs(f, ys, root)
            if release:
                for nd in release:
                    nd.clear()
        if clear_buffer:
            for state, nones in plan.stateful:
                state.update(nones)
        return
    for f, _, _, _, release in steps:  # with hooks, or on a device
        if pre_hook:
            pre_hook(f)
        run_forward(f, root)
        if post_hook:
            post_hook(f)
        for nd in release:
            nd.clear()
    if clear_buffer:
        for state, nones in plan.stateful:
            state.update(nones)


def _releasable(plan, root, clear_buffer, clear_no_need_grad):
    """For each step, the data arrays that forward clearing may free after it."""
    last_use, keep = {}, set()
    for i, f in enumerate(plan.order):
        for x in f.inputs:
            last_use[id(x)] = (i, x)
    if clear_no_need_grad and not clear_buffer:
        for f, need in zip(plan.order, plan.needs):
            if True in need:  # its backward runs: keep what it reads
                if f.grad_reads_inputs:
                    keep.update(id(x) for x in f.inputs)
                if f.grad_reads_outputs:
                    keep.update(id(o()) for o in f._outputs)
    if plan.kept:
        keep.update(plan.kept)
    if plan.recompute:  # what recomputation reads must stay
        for f in plan.order:
            if any(y is not None and y._recompute for y in f.outputs):
                keep.update(id(x) for x in f.inputs if not x._recompute)
    release = [[] for _ in plan.order]
    for key, (i, x) in last_use.items():
        if x._parent is None or x.persistent or x is root:
            continue
        if x._recompute:
            release[i].append(x._data)
        elif (clear_buffer or clear_no_need_grad) and key not in keep:
            # As in NNabla, clear_no_need_grad spares what the user holds (a
            # gradient from nn.grad fed to F.sink, say); clear_buffer does not.
            if clear_buffer or key not in plan.held:
                release[i].append(x._data)
    return release


def _held_by_user(order):
    """ids of the intermediates that something besides their consumers in
    ``order`` refers to (the script, another graph), seen as the plan is made."""
    found, uses = {}, {}
    for f in order:
        for x in f.inputs:
            if x._parent is not None:
                found[id(x)] = x
                uses[id(x)] = uses.get(id(x), 0) + 1
    x = None  # (the loop's last one would count as held)
    # the consumers' input lists refer to each n times, ``found`` and
    # getrefcount's argument once each
    return {key for key, n in uses.items() if sys.getrefcount(found[key]) > n + 2}


def _need_flags(order):
    """For each function, a tuple saying which inputs want a gradient now."""
    wants = {}
    flags = []
    for f in order:
        need = tuple(input_wants_grad(x, wants.get(id(x), False)) for x in f.inputs)
        flags.append(need)
        if True in need:
            for o in f._outputs:
                wants[id(o())] = True
    return flags


_SCALARS = (int, float)


_zero_views = {}


def _read(xp, nd):
    """A data array as backward gets it. One that forward clearing freed (no
    backward reads its values: ``Function.grad_reads_*``) comes as a read-only
    zero view of its shape and dtype, made once per shape, not a new array."""
    arr = nd._arr
    if arr is None:
        key = (nd._shape, nd._dtype, xp.__name__)
        view = _zero_views.get(key)
        if view is None:
            if len(_zero_views) >= 256:  # many shapes (dynamic graphs): start over
                _zero_views.clear()
            view = _zero_views[key] = xp.broadcast_to(xp.zeros((), nd._dtype), nd._shape)
        return view
    if nd._zeroing:
        arr[...] = 0
        nd._zeroing = False
    return arr


def _read_on(xp, nd):
    """``_read`` for a function of a plan that is not all on the host: the
    array on the function's device (copied there if the newest copy is not)."""
    if nd._arr is None:
        return _read(xp, nd)
    return nd._on(xp)


def _accumulate(nd, gx):
    """A leaf's ``x.g += gx`` (``x.g = gx`` after ``zero()``) in the general case:
    nothing allocated yet, another dtype or shape, or the gradient on the other
    side (the sum is then made on the gradient's side)."""
    xp = backend.array_module(gx)
    arr = nd._arr
    if nd._zeroing or arr is None:
        nd._arr = xp.array(xp.broadcast_to(gx, nd._shape))
        nd._zeroing = False
    else:
        arr = nd._on(xp)
        arr += gx


def _across(f, xp, xs, ys, gys):
    """``f.backward`` in a graph whose functions run on more than one device:
    the output gradients are brought to ``f``'s device, the input gradients
    leave on the host."""
    gxs = f.backward(xp, xs, ys, [backend.to_device(xp, g) for g in gys])
    return [None if g is None else backend.to_numpy(g) for g in gxs]


def _unwritten_grad(xp, y, shape, consumed):
    """The gradient of an output that no function of this backward wrote, as NNabla
    has it: what ``.g`` holds when it feeds a function that leaves its inputs'
    gradients alone (gradients set by hand, then ``F.sink(..., one_input_grad=False)``),
    zeros otherwise (an unused output of ``split``, ``max``'s indices, the input
    of a comparison)."""
    if y is None:
        return xp.zeros(shape, np.float32)
    nd = y._grad
    if id(y) in consumed:
        if nd._arr is None:
            nd._dtype = y._data.dtype
        return nd._on(xp)
    g = xp.zeros(shape, y._data.dtype)
    nd._set(g)
    return g


def _seed_dtype(root):
    """The root's dtype; float32 for a float64 (or float16) root of a 'float'
    context, as NNabla seeds it (reshape and identity pass float64 on), and for
    an integer root (an index output), whose gradient NNabla keeps in float32."""
    dtype = root._data.dtype
    if dtype.kind != "f":
        return _F32_DTYPE
    if dtype != _F32_DTYPE:
        ctx = root._parent.ctx
        if not (ctx.double or ctx.half):
            return _F32_DTYPE
    return dtype


def backward(root, grad=1, clear_buffer=False, pre_hook=None, post_hook=None):
    if _pre_hooks or _post_hooks:
        pre_hook, post_hook = _with_global_hooks(pre_hook, post_hook)
    plan = _plan(root)
    steps = plan.backward_steps
    if not steps:
        return
    xp = np if plan.host else root._parent.xp
    # The seed goes to the root's function only: root.g is left as it was, as
    # NNabla leaves it (grad=None seeds with root.g itself).
    if grad is None:
        seed = root._grad._get() if plan.host else root._grad._on(xp)
    elif grad.__class__ in _SCALARS or np.isscalar(grad):
        dtype = root._data.dtype
        if dtype is _F32_DTYPE:
            seed = xp.empty(root._data._shape, dtype)
            seed.fill(grad)  # (xp.full: the same, at twice the cost of this per step)
        else:  # a float16 root: a loss scale beyond its range is inf, silently as NNabla's
            seed = xp.empty(root._data._shape, _seed_dtype(root))
            with np.errstate(over="ignore"):
                seed.fill(grad)
    else:  # an array or NdArray broadcasting to the root's shape (Variable.backward checks)
        if isinstance(grad, NdArray):
            values = grad._get() if plan.host else grad._on(xp)
        else:
            values = backend.to_device(xp, np.asarray(grad))
        seed = xp.array(xp.broadcast_to(values, root.shape), dtype=_seed_dtype(root))
    if clear_buffer and not (pre_hook or post_hook):
        steps = plan.clearing_steps(root)
    host, mixed = plan.host, plan.mixed
    grads = {id(root): seed}
    pop, get = grads.pop, grads.get
    consumed, recompute, kept = plan.consumed, plan.recompute, plan.kept
    read = _read if host else _read_on
    for f, need, targets in steps:
        refs = f._outputs
        if len(refs) == 1:  # the common case, without the general loop's lists
            y = refs[0]()
            g = pop(id(y), None) if y is not None else None
            if g is None:
                g = _unwritten_grad(f.xp, y, f.out_shapes[0], consumed)
            elif y is not root:
                nd = y._grad
                nd._arr = g
                nd._zeroing = False
            outs, gys = [y], [g]
        else:
            outs = [o() for o in refs]
            gys = []
            for y, shape in zip(outs, f.out_shapes):
                g = pop(id(y), None) if y is not None else None
                if g is None:
                    g = _unwritten_grad(f.xp, y, shape, consumed)
                elif y is not root:
                    nd = y._grad
                    nd._arr = g
                    nd._zeroing = False
                gys.append(g)
        if pre_hook:
            pre_hook(f)
        restored = _restore(f.inputs) + _restore(outs) if recompute else None
        f.need = need
        xp = f.xp
        xs = [read(xp, x._data) for x in f.inputs]
        ys = [read(xp, y._data) if y is not None else None for y in outs]
        gxs = _across(f, xp, xs, ys, gys) if mixed else f.backward(xp, xs, ys, gys)
        if restored:
            for nd in restored:
                nd.clear()
        for i, x, leaf in targets:
            gx = gxs[i]
            if gx is None:
                continue
            if leaf:  # accumulate into its reused buffer
                nd = x._grad
                arr = nd._arr
                if type(arr) is not type(gx):  # None, or on the other side
                    _accumulate(nd, gx)
                elif nd._zeroing:
                    if arr.shape != nd._shape or (arr.dtype != gx.dtype and not (
                            arr.dtype == _F32_DTYPE and gx.dtype == _F16_DTYPE
                            and arr.base is not None)):
                        _accumulate(nd, gx)
                    else:  # (a float32 view, a solver's widened mixed-precision pack,
                        arr[...] = gx  # takes float16 gradients: the pack stays valid)
                        nd._zeroing = False
                else:
                    arr += gx
            else:
                key = id(x)
                prev = get(key)
                grads[key] = gx if prev is None else prev + gx
                if post_hook:  # the hook sees x.g as accumulated so far, as in NNabla
                    x._grad._arr = grads[key]
                    x._grad._zeroing = False
        if post_hook:  # after the gradients reached the inputs
            post_hook(f)
        if clear_buffer:
            for y in outs:
                if y is not None and y is not root and not y._persistent and (
                        kept is None or id(y) not in kept):
                    y._data.clear()
                    y._grad.clear()
    for x in plan.unstepped:
        g = pop(id(x), None)
        if g is not None:
            x._grad._arr = g
            x._grad._zeroing = False
    if clear_buffer:  # what functions kept from forward for backward goes too
        for state, nones in plan.stateful:
            state.update(nones)


def _restore(variables):
    """Compute again the data of recompute variables that forward freed; returns
    their arrays, which the caller frees after use. What only served to compute
    them again is freed here."""
    restored = []
    for v in variables:
        if v is not None and v._recompute and v._data._arr is None and v._parent is not None:
            f = v._parent
            temporaries = _restore(f.inputs)
            run_forward(f)
            for nd in temporaries:
                nd.clear()
            restored.extend(y._data for y in f.outputs if y is not None and y._recompute)
    return restored


def rebuild(root, need_grad=False):
    """Copy the graph up to ``root`` with fresh function nodes (for Variable.no_grad)."""
    import copy
    from .variable import Variable
    memo = {}

    def clone(v):
        if v._parent is None:
            return v if not v._need_grad or need_grad else v.get_unlinked_variable(need_grad)
        if id(v) in memo:
            return memo[id(v)]
        f = v._parent
        g = copy.copy(f)
        outs = g(*[clone(x) for x in f.inputs])
        outs = outs if isinstance(outs, tuple) else (outs,)
        for o, new in zip(f.outputs, outs):
            if o is not None:
                memo[id(o)] = new
        return memo[id(v)]

    return clone(root)


def forward_all(variables: Iterable[Any], clear_buffer: bool = False,
                clear_no_need_grad: bool = False,
                function_pre_hook: Callable[[Any], object] | None = None,
                function_post_hook: Callable[[Any], object] | None = None) -> None:
    """Forward several roots, running shared sub-graphs once."""
    if _pre_hooks or _post_hooks:
        function_pre_hook, function_post_hook = _with_global_hooks(function_pre_hook,
                                                                   function_post_hook)
    done = set()
    for v in variables:
        for f in order_of(v):
            if id(f) in done:
                continue
            done.add(id(f))
            forward_ranks((f,))
            if function_pre_hook:
                function_pre_hook(f)
            run_forward(f, v)
            if function_post_hook:
                function_post_hook(f)
