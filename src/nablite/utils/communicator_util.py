"""Multi-process helpers of NNabla's ``nnabla.utils.communicator_util``, for one process.

NNabla's example scripts import this module unconditionally and ask it
whether they are the process that should log, save and plot::

    from nnabla.utils.communicator_util import current_communicator, single_or_rankzero
    comm = current_communicator()          # None: no communicator was created
    if single_or_rankzero():
        monitor_loss.add(i, loss.d)

nablite has no multi-process communicator (NNabla's ``nnabla.communicators``
needs MPI and its CUDA extension), so a run is always a single process:
``create_communicator()`` returns None and the helpers answer accordingly.
MPI is neither needed nor imported.
"""
import os

from ..logger import logger

__all__ = ["create_communicator", "current_communicator", "single_or_rankzero"]

_current_communicator = None


def _mpi_world_size():
    """The process count an Open MPI launcher announces (NNabla reads the same
    variable to decide whether to create a communicator), or None."""
    size = os.environ.get("OMPI_COMM_WORLD_SIZE")
    if size is None:
        return None
    try:
        return int(size)
    except ValueError:
        return None


def create_communicator(ignore_error=False, extension_module="cudnn", type_config="float"):
    """The communicator of this run: always None in nablite (one process).

    Without an MPI launcher (or with a one-process job) this returns None, as
    NNabla does on a single process. Launched as one of several MPI processes
    (``OMPI_COMM_WORLD_SIZE`` > 1), each process would train alone on the whole
    data, so this raises unless ``ignore_error=True``, which logs a warning and
    continues as a single process (NNabla does the same when its communicator
    cannot be created).

    Args:
        ignore_error (bool): Return None instead of raising when a communicator
            was asked for and cannot be created.
        extension_module (str): The extension NNabla would run the communicator
            on ('cpu', 'cuda', 'cudnn'); unused here.
        type_config (str): The extension's type configuration; unused here.
    """
    size = _mpi_world_size()
    if size is None or size <= 1:
        return None
    message = (f"create_communicator: OMPI_COMM_WORLD_SIZE={size} says this process is one "
               f"of {size} MPI processes, but nablite has no multi-process communicator "
               f"(extension_module={extension_module!r}, type_config={type_config!r}); "
               "run a single process, or pass ignore_error=True to continue as one")
    if not ignore_error:
        raise RuntimeError(message)
    logger.warning(message)
    return None


def current_communicator():
    """The communicator ``create_communicator()`` made, or None (always None here)."""
    return _current_communicator


def single_or_rankzero():
    """True on a single process or on rank 0 of a communicator: the process
    that should log, save parameters and write monitors."""
    comm = _current_communicator
    return comm is None or comm.rank == 0
