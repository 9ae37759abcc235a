import numpy as np
import nablite as nn
import nablite.communicators as C
import nablite.functions as F
import nablite.parametric_functions as PF
import nablite.solvers as S
from nablite.ext_utils import get_extension_context

comm = C.MultiProcessDataParallelCommunicator(get_extension_context("cpu"))
comm.init()                                   # rank, size, local_rank; fail-fast hooks
rng = np.random.RandomState(comm.rank)        # each rank: its own part of the batch
x = nn.Variable.from_numpy_array(rng.rand(16, 3, 8, 8))
t = nn.Variable.from_numpy_array(rng.randint(0, 10, (16, 1)))
h = F.relu(PF.sync_batch_normalization(PF.convolution(x, 8, (3, 3)), comm, name="bn"))
loss = F.mean(F.softmax_cross_entropy(PF.affine(h, 10), t))
params = nn.get_parameters()
comm.bcast([v.data for v in params.values()], 0)   # one starting point everywhere
solver = S.Momentum(0.1, 0.9)
solver.set_parameters(params)
for step in range(5):
    loss.forward()
    solver.zero_grad()
    cb = comm.all_reduce_callback([v.grad for v in params.values()], 1 << 20, division=True)
    loss.backward(communicator_callbacks=cb)   # all-reduce overlaps backward
    solver.update()
if comm.rank == 0:
    print(f"{comm.size} ranks, loss {float(loss.d):.4f}")
