"""Run a nablite command or an example script in NNabla's 'cudnn' context (the GPU).

    python tools/on_cudnn.py train cnn --steps 1000 -o runs/cnn_gpu
    python tools/on_cudnn.py examples/by_examples.py --steps 1000 --out runs/tutorial_gpu

tools/gpu_session.sh uses it where a command has no option of its own to
choose the context: the first form runs `nablite ARGS...` with
get_extension_context('cudnn') as the default context; the second runs the
script with it too, and answers the script's own get_extension_context('cpu')
(examples/by_examples.py's CNN section, where NNabla's tutorial says 'cudnn')
with the 'cudnn' context. This is session tooling, not library code: once the
examples take a --context option, gpu_session.sh calls them with it instead.
Without CuPy or a GPU it stops with get_extension_context's message (which
says which is missing); NABLITE_DEVICE_SIM=1 runs it on the simulated device.
"""
import runpy
import sys


def main(argv):
    import nablite as nn
    from nablite import ext_utils
    try:
        ctx = ext_utils.get_extension_context("cudnn")
    except RuntimeError as e:
        print(f"tools/on_cudnn.py: {e}", file=sys.stderr)
        return 2
    nn.set_default_context(ctx)
    print(f"tools/on_cudnn.py: default context {ctx}", flush=True)
    if argv and argv[0].endswith(".py"):
        cpu_to_cudnn(ext_utils)
        sys.argv = list(argv)
        try:
            runpy.run_path(argv[0], run_name="__main__")
        except SystemExit as e:
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return 0
    from nablite.cli import main as nablite_main
    return nablite_main(list(argv))


def cpu_to_cudnn(ext_utils):
    """Make get_extension_context('cpu') give the 'cudnn' context, for a script
    that asks for the CPU where NNabla's original asks for the GPU."""
    original = ext_utils.get_extension_context

    def on_cudnn(ext_name, **kw):
        return original("cudnn" if ext_name == "cpu" else ext_name, **kw)
    ext_utils.get_extension_context = on_cudnn


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
