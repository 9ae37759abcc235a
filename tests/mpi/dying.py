"""A rank that dies in the middle of data-parallel training:
``python dying.py raise|exit|kill`` makes the last rank raise an uncaught
error, call ``sys.exit(3)``, or be killed by SIGKILL (as the OOM killer does;
mpiexec itself notices that one) at step 2 while the others go on
all-reducing; the job must end at once with a non-zero status, not hang."""
import os
import signal
import sys

import numpy as np

import nablite as nn
import nablite.communicators as C
import nablite.functions as F
import nablite.parametric_functions as PF
import nablite.solvers as S
from nablite.ext_utils import get_extension_context

comm = C.MultiProcessDataParallelCommunicator(get_extension_context("cpu"))
comm.init()
x = nn.Variable.from_numpy_array(np.random.RandomState(comm.rank).rand(4, 5))
loss = F.mean(PF.affine(x, 3) ** 2)
solver = S.Sgd(0.1)
solver.set_parameters(nn.get_parameters())
for step in range(1000):
    if step == 2 and comm.rank == comm.size - 1:
        if sys.argv[1] == "raise":
            raise RuntimeError("rank died on purpose")
        if sys.argv[1] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        sys.exit(3)
    loss.forward()
    solver.zero_grad()
    loss.backward()
    comm.all_reduce([v.grad for v in nn.get_parameters().values()], division=True)
    solver.update()
print("finished all steps", flush=True)
