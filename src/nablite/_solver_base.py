"""Solver: the bookkeeping every optimizer shares (NNabla's ``nnabla.solver.Solver``).

Private: the public modules are ``nablite.solvers`` and ``nablite.solver``
(NNabla's two names for the solver classes), which re-export what is here.

A solver keeps, per registered parameter, a dict of state arrays (zeros of
the parameter's shape at registration) and a step counter ``t``. A subclass
in ``solvers.py`` states only its rule:

    _state_names            names of its state arrays, in the order NNabla lists them
    _update(w, g, s, t)     updates ``w`` (and the arrays of ``s``) in place
    packable = True         only if the rule is elementwise (see Solver.packable)

Everything else lives here: registration, lazily zeroed gradients (a
parameter whose gradient was not written since ``zero_grad()`` is skipped
by every method), weight decay (added to the gradient, or handed to the rule
when the solver fuses it), gradient clipping and scaling, inf/NaN checks,
learning-rate access, hooks and state files.
"""
from __future__ import annotations

import math
import numbers
import weakref
from collections import OrderedDict
from typing import Callable

import numpy as np

from . import _array as _ndarray_module, backend
from ._array import NdArray
from .context import get_current_context
from .logger import logger
from .parameter import _ext_of
from .graph import hooks_around

__all__ = ["Solver", "SolverState", "set_solver_pre_hook", "set_solver_post_hook",
           "unset_solver_pre_hook", "unset_solver_post_hook"]

_T_MAX = 2 ** 32 - 2  # NNabla's step counter saturates here
_F16 = np.dtype(np.float16)
_F64 = np.dtype(np.float64)
_pre_hooks = OrderedDict()
_post_hooks = OrderedDict()


def set_solver_pre_hook(key: str, solver_pre_hook: Callable[[], object]) -> None:
    """Call ``solver_pre_hook()`` before every per-parameter step of every solver."""
    _pre_hooks[key] = solver_pre_hook


def set_solver_post_hook(key: str, solver_post_hook: Callable[[], object]) -> None:
    """Call ``solver_post_hook()`` after every per-parameter step of every solver."""
    _post_hooks[key] = solver_post_hook


def unset_solver_pre_hook(key: str) -> None:
    _pre_hooks.pop(key, None)


def unset_solver_post_hook(key: str) -> None:
    _post_hooks.pop(key, None)


def _f32(v, where="Solver"):
    """NNabla stores solver hyper-parameters as C floats; bools stay bools."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    f = _real(v, where)
    f = float(np.float32(f)) if abs(f) <= 3.4e38 else math.inf
    if not math.isfinite(f):
        raise ValueError(f"{where}={v!r}: expected a finite number (float32)")
    return f


def _real(v, where):
    """``v`` as a float when it is a finite real number. Anything else (None, a
    string, NaN, inf) is refused: it would turn every parameter into NaN."""
    if type(v) is not float:
        if isinstance(v, np.ndarray) and v.shape == () and v.dtype.kind in "iuf":
            v = v.item()
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"{where}={v!r}: expected a real number, got {type(v).__name__}")
        v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{where}={v!r}: expected a finite number")
    return v


def _step_count(t, where):
    """A state's step count ``t``: an integer in [0, 2**32 - 2] (NNabla's range)."""
    if isinstance(t, np.ndarray) and t.shape == () and t.dtype.kind in "iu":
        t = t.item()
    if t is None:
        raise ValueError(f"{where}: the step count t is missing")
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Integral):
        raise TypeError(f"{where}: the step count t={t!r} must be an integer")
    if not 0 <= t <= _T_MAX:
        raise ValueError(f"{where}: the step count t={t} must be in [0, {_T_MAX}]")
    return int(t)


class SolverState:
    """The state of one parameter: ``pstate`` (name -> Variable) and step count ``t``."""

    def __init__(self):
        self.pstate = {}
        self.t = 0

    def __repr__(self):
        return f"SolverState(t={self.t}, pstate={list(self.pstate)})"


class _Slot:
    """A registered parameter with its state arrays (the hot loop's record)."""

    __slots__ = ("param", "state", "t")

    def __init__(self, param, state, t=0):
        self.param, self.state, self.t = param, state, t


def _array(nd, xp):
    """``nd``'s newest values as an array of ``xp``; on a device the first use moves
    them there (later uses find them there)."""
    return nd._get() if xp is np else nd._on(xp)


class _Pack:
    """Every parameter, gradient and state array of a solver laid end to end.

    The parameters' own arrays become views into ``w`` and ``g`` (on the
    solver's device), so an elementwise rule (one that states ``packable =
    True``; not Lars and Lamb, which take norms per parameter) updates all of
    them in one pass of a few array calls instead of a few calls per
    parameter: what makes small models (many small parameters) fast.
    ``valid()`` re-checks the views each update; anything that swapped an
    array out (a user assigning ``.d`` of another dtype, a skipped gradient)
    sends the update back to the per-parameter loop. On a device, reading or
    writing ``.d``/``.g`` moves the newest copy to the host; ``valid()`` copies
    it back into the view (the transfer the next device use makes anyway).
    """

    __slots__ = ("w", "g", "state", "views", "slots", "t", "xp")

    def __init__(self, slots, state_names, dtype, xp, grad_dtype=None):
        self.xp = xp
        sizes = [s.param._data.size for s in slots]
        total = sum(sizes)
        self.w = xp.empty(total, dtype)
        self.g = xp.empty(total, grad_dtype or dtype)  # float16 in mixed precision
        self.state = {k: xp.empty(total, dtype) for k in state_names}
        self.views = []
        self.slots = list(slots)
        self.t = slots[0].t
        offset = 0
        for slot, n in zip(slots, sizes):
            data, grad = slot.param._data, slot.param._grad
            shape = data._shape
            wv = self.w[offset:offset + n].reshape(shape)
            gv = self.g[offset:offset + n].reshape(shape)
            wv[...] = _array(data, xp)
            gv[...] = _array(grad, xp)
            data._set(wv)
            grad._set(gv)
            for k, flat in self.state.items():
                view = flat[offset:offset + n].reshape(shape)
                view[...] = slot.state[k]
                slot.state[k] = view
            self.views.append((slot, data, grad, wv, gv))
            offset += n

    def widen_grads(self):
        """The float16 gradients as one float32 array, the parameters' gradients
        re-pointed at its views (what scale_grad & co. leave, as NNabla's)."""
        self.g = g = self.g.astype(np.float32)
        views, offset = [], 0
        for slot, data, grad, wv, gv in self.views:
            view = g[offset:offset + gv.size].reshape(gv.shape)
            grad._set(view)
            grad._dtype = np.float32
            views.append((slot, data, grad, wv, view))
            offset += gv.size
        self.views = views

    def valid(self):
        """Whether every parameter still uses its views, had its gradient written
        and is at the pack's step count."""
        t = self.t
        for slot, data, grad, wv, gv in self.views:
            param = slot.param
            if (param._data is not data or param._grad is not grad or grad._zeroing
                    or slot.t != t or (data._arr is not wv and not self._back(data, wv))
                    or (grad._arr is not gv and not self._back(grad, gv))):
                return False
        return True

    def _back(self, nd, view):
        """On a device: when ``nd``'s newest copy left the view with its shape and
        dtype (``.d`` read or written on the host; a backward that made a new
        device array after that), copy it into the view, which holds the newest
        copy again (a host buffer is kept for the next read)."""
        arr = nd._arr
        if (self.xp is np or arr is None or nd._zeroing or arr.shape != view.shape
                or arr.dtype != view.dtype):
            return False
        if type(arr) is np.ndarray:
            view[...] = backend.to_device(self.xp, arr)
            nd._set(view)
            nd._other = arr
        elif type(arr) is type(view):
            view[...] = arr
            nd._set(view)
        else:
            return False
        return True


def _packable(slots, state_names, xp):
    """The dtypes (parameters, gradients) of the flat arrays the parameters can
    share (one dtype each, arrays of ``xp``, equal t), or None. The gradients
    may be float16 where the parameters are float32 (mixed precision)."""
    if len(slots) < 2:
        return None
    t = slots[0].t
    for s in slots:
        if s.param._grad._zeroing or s.t != t:
            return None
    arrays = [(_array(s.param._data, xp), _array(s.param._grad, xp), s) for s in slots]
    kind = type(arrays[0][0])
    if xp is np and kind is not np.ndarray:  # a memmap or other subclass keeps its own
        return None
    dtype, grad_dtype = arrays[0][0].dtype, arrays[0][1].dtype
    if dtype == _F16:  # float16 parameters take the loop, which updates them in float32
        return None
    if grad_dtype != dtype and not (grad_dtype == _F16 and dtype == np.float32):
        return None
    for d, g, s in arrays:
        if (type(d) is not kind or type(g) is not kind or d.dtype != dtype
                or g.dtype != grad_dtype or g.shape != d.shape
                or any(s.state[k].dtype != dtype for k in state_names)):
            return None
    return dtype, grad_dtype


def _state_variable(arr, slot, key, xp):
    """A Variable over the solver's state array ``arr`` (``slot.state[key]``)."""
    from .variable import Variable
    v = Variable(arr.shape)
    if xp is not np:
        v._data = _StateArray(slot, key, xp)
    v._data._set(arr)  # shares memory with the solver's array
    return v


class _StateArray(NdArray):
    """The data of a state Variable from ``get_states`` on a device. Its ``.d`` is
    the host copy; values read or written there go back into the solver's array
    at the solver's next use of its states (``Solver._take_back``) or when this
    array is freed, so the Variables share the solver's states as on the CPU."""

    __slots__ = ("_origin", "_slot", "_key", "_xp")

    def __init__(self, slot, key, xp):
        origin = slot.state[key]
        NdArray.__init__(self, origin.shape)
        self._origin, self._slot, self._key, self._xp = origin, slot, key, xp

    def _write_back(self):
        """Copy host values back into the solver's array; whether this array still
        shares it (a pack or set_states replaces the solver's arrays, as on the CPU)."""
        host, origin = self._arr, self._origin
        if self._slot.state.get(self._key) is not origin:
            return False
        if host is origin:
            return True
        if type(host) is not np.ndarray or host.shape != origin.shape or self._zeroing:
            return False
        origin[...] = backend.to_device(self._xp, host.astype(origin.dtype, copy=False))
        self._set(origin)
        self._other = host
        return True

    def __del__(self):
        try:
            self._write_back()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


class Solver:
    """Base class of the solvers; see ``nablite.solvers`` for the rules.

    Hyper-parameters are the constructor's keyword arguments, stored as
    float32-rounded attributes and listed in ``info``. ``_lr_name`` names the
    one ``learning_rate()`` reads (kept in ``self.lr``; ``self.lr0`` is its
    constructor value, for rules that scale by ``lr / lr0``).

    Packing protocol: a rule that sets ``packable = True`` promises that its
    ``_update`` treats every element alike (no norms, sums or other reductions
    over ``w``, ``g`` or the states, no dependence on the shape). Such a solver
    may lay all its parameters end to end in one flat array (``_Pack``) and call
    ``_update`` once on that array instead of once per parameter. The default is
    ``False``: a rule that takes per-parameter norms (Lars, Lamb) or that does
    not state the flag is always updated parameter by parameter, so it can
    never compute a norm across all parameters by mistake.
    """

    _lr_name = "lr"
    _state_names = ()
    _fused = False        # weight decay folded into the rule
    packable = False      # a rule sets True only if elementwise (see the class docstring)
    _decay_arg = None     # constructor argument giving the default fused rate

    def __init__(self, **hyper):
        self.info = {k: _f32(v, f"{type(self).__name__}: {k}") for k, v in hyper.items()}
        for k, v in self.info.items():
            if k != self._lr_name:
                setattr(self, k, v)
        self.lr = self.lr0 = self.info[self._lr_name]
        self._default_decay = self.info[self._decay_arg] if self._decay_arg else 0.0
        self._decay = self._default_decay
        self._slots = OrderedDict()
        self._pack = None
        self._pack_builds = 0
        self._handed = []  # on a device: the state arrays get_states handed out (_take_back)
        self.ctx = get_current_context()
        # the array module of the solver's device: states live there, rules compute there
        self.xp = backend.module_for(self.ctx.backend_name)

    # -- what a subclass states -----------------------------------------------
    def _init_state(self, w):
        """Zero state arrays on the solver's device, of ``w``'s shape and dtype
        (float32 for a float16 ``w``: the solver computes in float32, as
        NNabla's; ``w``: an array or an NdArray, whose values are not read)."""
        xp = self.xp
        dtype = np.float32 if np.dtype(w.dtype) == _F16 else w.dtype
        return {name: xp.zeros(w.shape, dtype) for name in self._state_names}

    def _master(self, slot, w, g):
        """``w`` and ``g`` as the rule takes them when their dtypes differ or are
        float16: a float16 parameter becomes float32 (its master copy from now
        on, as in NNabla, whose solvers compute in float32), as does a float64 one
        (float64 assigned to ``.d``) unless the solver's context is 'double';
        the states follow, and the gradient is read in the parameter's dtype."""
        if w.dtype == _F16 or (w.dtype == _F64 and not self.ctx.double):
            w = w.astype(np.float32)
            slot.param._data._set(w)
            slot.state = {k: v.astype(np.float32) if v.dtype != np.float32 else v
                          for k, v in slot.state.items()}
        return w, (g if g.dtype == w.dtype else g.astype(w.dtype))

    def _update(self, w, g, s, t):
        raise NotImplementedError

    # -- identity and learning rate ------------------------------------------
    @property
    def name(self):
        return type(self).__name__

    def learning_rate(self):
        """The current learning rate (float32-rounded)."""
        return self.lr

    def set_learning_rate(self, learning_rate):
        """Set the learning rate used by the next ``update()``."""
        self.lr = _f32(learning_rate, f"{self.name}.set_learning_rate: learning_rate")

    def weight_decay_is_fused(self):
        """True if ``weight_decay(rate)`` only hands ``rate`` to the next ``update()``."""
        return self._fused

    def setup(self, params):
        raise RuntimeError("Deprecated. Call set_parameters(param_dict).")

    def __repr__(self):
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.info.items())})"

    # -- registration -----------------------------------------------------------
    def set_parameters(self, param_dict, reset=True, retain_state=False):
        """Register ``{name: Variable}``; new parameters start with zero state.

        Args:
            param_dict (dict): Parameters, e.g. ``nn.get_parameters()``.
            reset (bool): Drop all registered parameters and states first.
            retain_state (bool): With ``reset=False``, keep the state of a name
                that is already registered (shapes must match) instead of
                zeroing it. The first registered Variable stays in either case.
        """
        where = f"{self.name}.set_parameters"
        if not hasattr(param_dict, "items"):
            raise TypeError(f"{where}: param_dict must be a dict of name -> Variable "
                            f"(e.g. nn.get_parameters()), got {type(param_dict).__name__}")
        from .variable import Variable
        for key, p in param_dict.items():
            if not isinstance(p, Variable):
                raise TypeError(f"{where}: {key!r} is a {type(p).__name__}, expected a "
                                "Variable")
        if reset:
            self._slots.clear()
        self._pack = None
        for key, p in param_dict.items():
            slot = self._slots.get(key)
            if slot is None:
                self._slots[key] = _Slot(p, self._init_state(p._data))
            elif retain_state:
                if tuple(p.shape) != tuple(slot.param.shape):
                    raise ValueError(
                        f"{self.name}.set_parameters: retain_state=True but {key!r} has shape "
                        f"{tuple(p.shape)}, while the registered one has {slot.param.shape}")
            else:
                slot.state, slot.t = self._init_state(slot.param._data), 0

    def remove_parameters(self, keys):
        """Unregister the parameters ``keys`` and drop their states."""
        for key in keys:
            self._slots.pop(key, None)
        self._pack = None

    def clear_parameters(self):
        """Unregister every parameter and drop every state."""
        self._slots.clear()
        self._pack = None

    def get_parameters(self):
        """OrderedDict of the registered ``name -> Variable``."""
        return OrderedDict((k, s.param) for k, s in self._slots.items())

    # -- states ------------------------------------------------------------------
    def get_states(self):
        """OrderedDict ``name -> SolverState``; its Variables share the solver's arrays
        (on a device their ``.d`` is the host copy, and what is written there is
        taken back by the solver's next use of its states)."""
        self._take_back()
        out = OrderedDict()
        xp = self.xp
        for key, slot in self._slots.items():
            st = SolverState()
            st.pstate = {k: _state_variable(a, slot, k, xp) for k, a in slot.state.items()}
            st.t = slot.t
            out[key] = st
            if xp is not np:
                self._handed.extend(weakref.ref(v._data) for v in st.pstate.values())
        return out

    def _take_back(self):
        """On a device: what was read or written on the host in the state Variables
        that ``get_states`` handed out goes back into the solver's arrays."""
        if self._handed:
            self._handed = [ref for ref in self._handed
                            if (nd := ref()) is not None and nd._write_back()]

    def set_states(self, states):
        """Replace the states of registered parameters. On the CPU a Variable's
        or NdArray's array of the state's dtype is adopted (shared, as NNabla
        shares it: writes to it reach the solver and updates are seen in it,
        until the solver packs its parameters); other values are copied.

        Everything is validated first, so a bad entry changes nothing.
        """
        staged = []
        if not hasattr(states, "items"):
            raise TypeError(f"{self.name}.set_states: states must be a dict of name -> "
                            f"SolverState (as get_states() returns), got {type(states).__name__}")
        for key, st in states.items():
            slot = self._slots.get(key)
            if slot is None:
                raise ValueError(f"{self.name}.set_states: Set weight parameter {key!r} first "
                                 "(call set_parameters before setting its state)")
            if isinstance(st, dict):
                pstate, t = st.get("pstate"), st.get("t")
            else:
                pstate, t = getattr(st, "pstate", None), getattr(st, "t", None)
            where = f"{self.name}.set_states: {key!r}"
            t = _step_count(t, where)
            if not hasattr(pstate, "items"):
                raise TypeError(f"{where}: pstate must be a dict of state name -> array, got "
                                f"{type(pstate).__name__}")
            if set(pstate) != set(slot.state):
                raise ValueError(f"{self.name}.set_states: {key!r} has states {sorted(pstate)}, "
                                 f"{self.name} expects {sorted(slot.state)}")
            new = {}
            for name, old in slot.state.items():
                v = pstate[name]
                # the NdArray an NdArray or a Variable holds, which may be adopted
                shared = v if isinstance(v, NdArray) else getattr(v, "_data", None)
                if hasattr(v, "d"):  # a Variable
                    arr = v.d
                elif hasattr(v, "dtype"):  # a numpy / cupy array
                    arr = v
                else:  # an NdArray, or a sequence
                    arr = getattr(v, "data", v)
                    arr = arr if hasattr(arr, "dtype") else np.asarray(arr)
                if getattr(arr.dtype, "kind", "O") not in "biuf":
                    raise TypeError(f"{where}: state {name!r} has dtype {arr.dtype}; expected "
                                    "real numbers")
                if tuple(arr.shape) != old.shape:
                    raise ValueError(f"{self.name}.set_states: state {name!r} of {key!r} has "
                                     f"shape {tuple(arr.shape)}, the parameter has {old.shape}")
                if self.xp is np:
                    arr = backend.to_numpy(arr)
                    if (isinstance(shared, NdArray) and type(arr) is np.ndarray
                            and arr.dtype == old.dtype and shared._arr is arr):
                        new[name] = arr  # adopted
                        continue
                new[name] = self.xp.array(arr, dtype=old.dtype)  # on the solver's device
            staged.append((slot, new, t))
        for slot, new, t in staged:
            slot.state, slot.t = new, t
        self._pack = None

    def save_states(self, path):
        """Write the states to ``path`` (``.h5`` or ``.protobuf``, NNabla's layouts)."""
        from . import _param_io
        _param_io.save_states(path, self._state_records())
        logger.info(f"Solver state save ({_ext_of(path, '.h5')}): {path}")

    def load_states(self, path):
        """Read states from ``.h5``, ``.protobuf`` or ``.nntxt``/``.prototxt`` into
        the registered parameters (register them first)."""
        from . import _param_io
        self._set_state_records(_param_io.load_states(path))
        logger.info(f"State load ({_ext_of(path, '.h5')}): {path}")

    def set_states_to_protobuf(self, optimizer):
        """Write the states into an ``nnabla_pb2.Optimizer`` message."""
        from . import _param_io
        _param_io.states_to_optimizer(self._state_records(), optimizer)

    def set_states_from_protobuf(self, optimizer_proto):
        """Read the states from an ``nnabla_pb2.Optimizer`` message."""
        from . import _param_io
        self._set_state_records(_param_io.states_from_optimizer(optimizer_proto))

    def _state_records(self):
        self._take_back()
        to_numpy = backend.to_numpy
        return OrderedDict((k, (s.t, OrderedDict((n, to_numpy(a)) for n, a in s.state.items())))
                           for k, s in self._slots.items())

    def _set_state_records(self, records):
        states = OrderedDict()
        for key, (t, arrays) in records.items():
            st = SolverState()
            st.t, st.pstate = t, arrays
            states[key] = st
        self.set_states(states)

    # -- gradients ---------------------------------------------------------------
    def zero_grad(self):
        """Mark every registered gradient as zero (no memory is written now,
        unless a view shares it: NdArray.zero)."""
        if _ndarray_module.views_made:
            for slot in self._slots.values():
                slot.param._grad.zero()
            return
        for slot in self._slots.values():
            slot.param._grad._zeroing = True

    def _packed(self):
        """The valid flat pack of all parameters, building it when possible, else None."""
        pack = self._pack
        if pack is not None and pack.valid():
            return pack
        self._pack = None
        if not self.packable or self._pack_builds >= 3:  # stop retrying what breaks
            return None
        slots = list(self._slots.values())
        dtypes = _packable(slots, self._state_names, self.xp)
        if dtypes is None:
            return None
        if self._handed:  # the pack starts from the states' newest values
            self._take_back()
        self._pack_builds += 1
        self._pack = _Pack(slots, self._state_names, dtypes[0], self.xp, dtypes[1])
        return self._pack

    def _written(self, pre_hook=None, post_hook=None):
        """(slot, w, g) of each parameter whose gradient was written, as arrays on
        the solver's device, running the hooks."""
        pres, posts = hooks_around(_pre_hooks.values(), pre_hook, post_hook,
                                   _post_hooks.values())
        xp = self.xp
        for slot in self._slots.values():
            grad = slot.param._grad
            if grad._zeroing:
                continue
            for h in pres:
                h()
            yield slot, _array(slot.param._data, xp), _array(grad, xp)
            for h in posts:
                h()

    def _grads(self, pre_hook, post_hook):
        """The written gradients (on the solver's device): the pack's one flat
        array when no hook runs and the pack is valid, else one per parameter."""
        if not (pre_hook or post_hook or _pre_hooks or _post_hooks):
            pack = self._packed()
            if pack is not None:
                return [pack.g]
        return [g for _, _, g in self._written(pre_hook, post_hook)]

    def update(self, update_pre_hook=None, update_post_hook=None):
        """Apply the rule to every parameter whose gradient was written since ``zero_grad()``.

        Skipped parameters keep their state and step count. A fused weight-decay
        rate set by ``weight_decay()`` applies to this update only.
        """
        rule = self._update
        if self._handed:
            self._take_back()
        if not (update_pre_hook or update_post_hook or _pre_hooks or _post_hooks):
            pack = self._packed()
            if pack is not None:
                t = pack.t = pack.t + 1 if pack.t < _T_MAX else pack.t
                g = pack.g
                if g.dtype is _F16:  # mixed precision: float16 gradients read in float32
                    g = g.astype(pack.w.dtype)
                rule(pack.w, g, pack.state, t)
                for slot in pack.slots:
                    slot.t = t
                self._decay = self._default_decay
                return
        master = self._master
        if update_pre_hook or update_post_hook or _pre_hooks or _post_hooks:
            for slot, w, g in self._written(update_pre_hook, update_post_hook):
                t = slot.t = slot.t + 1 if slot.t < _T_MAX else slot.t
                if w.dtype is not g.dtype or w.dtype is _F16:
                    w, g = master(slot, w, g)
                rule(w, g, slot.state, t)
        else:
            xp = self.xp
            host = xp is np
            for slot in self._slots.values():  # the hot loop: engine internals, no properties
                p = slot.param
                grad = p._grad
                if grad._zeroing:
                    continue
                t = slot.t = slot.t + 1 if slot.t < _T_MAX else slot.t
                if host:
                    w, g = p._data._get(), grad._get()
                else:
                    w, g = p._data._on(xp), grad._on(xp)
                if w.dtype is not g.dtype or w.dtype is _F16:  # mixed precision, float64 .d
                    w, g = master(slot, w, g)
                rule(w, g, slot.state, t)
        self._decay = self._default_decay

    def weight_decay(self, decay_rate, pre_hook=None, post_hook=None):
        """``g += decay_rate * w``; a fused solver applies it inside the next ``update()``."""
        if type(decay_rate) is not float or not math.isfinite(decay_rate):  # per step: cheap
            _real(decay_rate, f"{self.name}.weight_decay: decay_rate")
        if self._fused:
            self._decay = _f32(decay_rate)
            return
        if decay_rate == 0:
            return
        if pre_hook or post_hook or _pre_hooks or _post_hooks:
            for _, w, g in self._written(pre_hook, post_hook):
                g += decay_rate * w
            return
        pack = self._packed()
        if pack is not None:
            pack.g += decay_rate * pack.w
            return
        xp = self.xp
        host = xp is np
        for slot in self._slots.values():  # hot path: engine internals, no generator
            grad = slot.param._grad
            if not grad._zeroing:
                if host:
                    g = grad._get()
                    g += decay_rate * slot.param._data._get()
                else:
                    g = grad._on(xp)
                    g += decay_rate * slot.param._data._on(xp)

    def _widen_half_grads(self):
        """float16 gradients (a 'half' context) become float32 first, as NNabla's
        scale_grad and clip_grad_by_norm leave them: unscaling a loss-scaled
        float16 gradient in float16 flushes its small values to zero. (NNabla's
        weight_decay widens them too; here it adds in float16, keeping the
        mixed-precision pack, whose update reads the gradients in float32.)"""
        pack = self._pack
        if pack is not None and pack.g.dtype != _F16:  # the common, all-float32 case
            return
        if pack is not None and pack.valid():
            return pack.widen_grads()
        xp = self.xp
        for slot in self._slots.values():
            grad = slot.param._grad
            if not grad._zeroing and grad.dtype == _F16:
                grad._set(_array(grad, xp).astype(np.float32))
                grad._dtype = np.float32

    def clip_grad_by_norm(self, clip_norm, pre_hook=None, post_hook=None):
        """Rescale each gradient whose L2 norm exceeds ``clip_norm`` to that norm."""
        _real(clip_norm, f"{self.name}.clip_grad_by_norm: clip_norm")
        if clip_norm == 0:
            return
        self._widen_half_grads()
        xp = self.xp
        for _, _, g in self._written(pre_hook, post_hook):
            flat = g.reshape(-1)
            if xp is np:
                norm = float(np.sqrt(np.dot(flat, flat)))
                if norm > clip_norm:
                    g *= clip_norm / norm
            else:  # no host value: g *= clip / max(norm, clip), 1 below the threshold
                norm = xp.sqrt(xp.dot(flat, flat)).astype(xp.float64)
                g *= (clip_norm / xp.maximum(norm, clip_norm)).astype(g.dtype)

    def scale_grad(self, scale, pre_hook=None, post_hook=None):
        """``g *= scale`` for every written gradient (float16 ones in float32)."""
        _real(scale, f"{self.name}.scale_grad: scale")
        self._widen_half_grads()
        for g in self._grads(pre_hook, post_hook):
            g *= scale

    def check_inf_grad(self, pre_hook=None, post_hook=None):
        """True if any written gradient contains +-inf."""
        return self._any_grad(self.xp.isinf, pre_hook, post_hook)

    def check_nan_grad(self, pre_hook=None, post_hook=None):
        """True if any written gradient contains NaN."""
        return self._any_grad(self.xp.isnan, pre_hook, post_hook)

    def check_inf_or_nan_grad(self, pre_hook=None, post_hook=None):
        """True if any written gradient contains inf or NaN."""
        isfinite = self.xp.isfinite
        return self._any_grad(lambda g: ~isfinite(g), pre_hook, post_hook)

    def _any_grad(self, test, pre_hook, post_hook):
        """Whether ``test`` holds anywhere: one flag per gradient on the device,
        then one transfer of them all to the host."""
        flags = [test(g).any() for g in self._grads(pre_hook, post_hook)]
        if not flags:
            return False
        return bool(backend.to_numpy(self.xp.stack(flags)).any())
