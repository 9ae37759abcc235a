"""Multi-process helpers of NNabla's ``nnabla.utils.communicator_util``.

NNabla's example scripts import this module unconditionally and ask it
whether they are the process that should log, save and plot::

    from nnabla.utils.communicator_util import create_communicator, single_or_rankzero
    comm = create_communicator(extension_module="cpu")   # None on a single process
    if single_or_rankzero():
        monitor_loss.add(i, loss.d)

Started by ``mpiexec -n N`` (N > 1), ``create_communicator()`` makes and
initializes a ``nablite.communicators.MultiProcessDataParallelCommunicator``;
on a single process it returns None and MPI is neither needed nor imported.
"""
import os

from ..logger import logger

__all__ = ["create_communicator", "current_communicator", "single_or_rankzero"]

_current_communicator = None

# What the launchers announce: Open MPI's mpirun (which NNabla reads) and
# MPICH's hydra mpiexec (what the [dist] extra installs).
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")


def _mpi_world_size():
    """(variable, process count) a multi-process launcher announces, or None."""
    for name in _SIZE_VARIABLES:
        size = os.environ.get(name)
        if size is not None:
            try:
                return name, int(size)
            except ValueError:
                return None
    return None


def create_communicator(ignore_error=False, extension_module="cudnn", type_config="float"):
    """The communicator of this run, or None on a single process.

    Without an MPI launcher (or with a one-process job) this returns None, as
    NNabla does. Launched as one of several MPI processes it creates and
    initializes a ``MultiProcessDataParallelCommunicator`` for the context of
    ``extension_module``, and sets that context's ``device_id`` to the rank (as
    NNabla: one GPU per process; pass the context to ``nn.set_default_context``
    to run there). The processes exchange through MPI: with a 'cuda' / 'cudnn'
    context the gradients are packed on the device and cross to the host once
    per packed buffer (no NCCL). When the communicator cannot be made this
    raises RuntimeError, or with ``ignore_error=True`` logs a warning and
    returns None (the process then trains alone, as NNabla does in that case).

    Args:
        ignore_error (bool): Return None instead of raising when a communicator
            was asked for and cannot be created.
        extension_module (str): 'cpu', 'cuda' or 'cudnn'.
        type_config (str): The extension's type configuration.
    """
    global _current_communicator
    _current_communicator = None
    launch = _mpi_world_size()
    if launch is None or launch[1] <= 1:
        return None
    variable, size = launch
    where = (f"create_communicator: {variable}={size} says this process is one of {size} MPI "
             f"processes, but")
    try:
        from ..communicators import MultiProcessDataParallelCommunicator
        from ..communicators._mpi import mpi
        from ..ext_utils import get_extension_context
        ctx = get_extension_context(extension_module, type_config=type_config)
        comm = MultiProcessDataParallelCommunicator(ctx)
        world = mpi().COMM_WORLD.Get_size()
        if world != size:
            raise RuntimeError(f"{where} MPI has {world}; start the script with the mpiexec "
                               "of the MPI that mpi4py was built with")
        comm.init()
        ctx.device_id = str(comm.rank % comm.size)
    except (ImportError, RuntimeError, ValueError, NotImplementedError) as e:
        message = str(e) if str(e).startswith("create_communicator") else f"{where} {e}"
        if not ignore_error:
            raise RuntimeError(f"{message}; or pass ignore_error=True to continue as one "
                               "process") from e
        logger.warning(message)
        return None
    _current_communicator = comm
    return comm


def current_communicator():
    """The communicator ``create_communicator()`` made, or None."""
    return _current_communicator


def single_or_rankzero():
    """True on a single process or on rank 0 of a communicator: the process
    that should log, save parameters and write monitors."""
    comm = _current_communicator
    return comm is None or comm.rank == 0
