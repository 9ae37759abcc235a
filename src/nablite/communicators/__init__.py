"""nablite.communicators: NNabla's communicators for data-parallel training.

``MultiProcessDataParallelCommunicator`` (also under NNabla's other names
``MultiProcessDataParalellCommunicator``, ``MultiProcessCommunicator``,
``Comm`` and ``Dist``) runs one process per rank over MPI, through mpi4py
(``pip install "nablite[dist]"`` installs mpi4py and mpich, whose
``mpiexec`` starts the ranks)::

    import nablite.communicators as C
    from nablite.ext_utils import get_extension_context

    comm = C.MultiProcessDataParallelCommunicator(get_extension_context("cpu"))
    comm.init()
    ...
    loss.backward(communicator_callbacks=comm.all_reduce_callback(
        [v.grad for v in params.values()], 1024 * 1024))

``DataParallelCommunicator`` reduces between model replicas of a single
process. mpi4py is imported only when a multi-process communicator is made.
"""
from .communicator import Communicator, MultiProcessDataParallelCommunicator
from .data_parallel import DataParallelCommunicator

MultiProcessDataParalellCommunicator = MultiProcessDataParallelCommunicator  # NNabla's spelling
MultiProcessCommunicator = MultiProcessDataParallelCommunicator
Comm = MultiProcessDataParallelCommunicator
Dist = MultiProcessDataParallelCommunicator

__all__ = ["Communicator", "MultiProcessDataParallelCommunicator",
           "MultiProcessDataParalellCommunicator", "MultiProcessCommunicator", "Comm", "Dist",
           "DataParallelCommunicator"]
