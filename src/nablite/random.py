"""Seeds: ``prng`` for parameter initializers, ``function_rng`` for stochastic functions."""
import numpy as np

pseed = 313
prng = np.random.RandomState(pseed)
function_rng = np.random.RandomState(pseed)


def set_parameter_seed(seed_value: int) -> None:
    """Reseed the generator initializers use when they get no ``rng``."""
    global pseed, prng
    pseed = _check(seed_value, "set_parameter_seed")
    prng = np.random.RandomState(pseed)


def set_function_seed(seed_value: int) -> None:
    """Reseed the generator stochastic functions use when their ``seed=-1``."""
    global function_rng
    function_rng = np.random.RandomState(_check(seed_value, "set_function_seed"))


def seed(seed_value: int, set_function_seed: bool = True,
         set_parameter_seed: bool = True) -> None:
    """Seed nablite's random generators so that runs are reproducible."""
    _check(seed_value, "seed")
    if set_parameter_seed:
        globals()["set_parameter_seed"](seed_value)
    if set_function_seed:
        globals()["set_function_seed"](seed_value)


def _check(seed_value: object, fn: str) -> int:
    if isinstance(seed_value, bool) or not isinstance(seed_value, (int, np.integer)):
        raise TypeError(f"{fn}: seed_value must be an int, got {seed_value!r}")
    return int(seed_value)
