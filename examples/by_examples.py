"""NNabla by examples (seed 000): logistic regression, MLP, CNN, Elman RNN and a
siamese network on the 8x8 digits — the tutorial's code with only its imports
changed (figures are saved as PNG files instead of shown inline, with titles,
axis labels and legends added).

Run: python examples/by_examples.py [--steps N] [--out DIR] [--sections logreg,mlp,...]
The same code also runs unchanged on NNabla's imports through `nablite run`.
"""
import argparse
import os
from typing import Any, Dict, List, Sequence, Tuple

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import nablite as nn  # noqa: E402
import nablite.functions as F  # noqa: E402
import nablite.parametric_functions as PF  # noqa: E402
import nablite.solvers as S  # noqa: E402
from nablite.monitor import tile_images  # noqa: E402
from nablite.datasets import tiny_digits  # noqa: E402

imshow_opt: Dict[str, Any] = dict(cmap='gray', interpolation='nearest')
OUT = "runs/by_examples"
history: Dict[str, Any] = {}
Batch = Tuple[np.ndarray, np.ndarray]


def savefig(name: str) -> None:
    plt.savefig(os.path.join(OUT, name), bbox_inches="tight")
    plt.close("all")


def plot_losses(keys: Sequence[str]) -> None:
    """One figure per section: the training loss of each iteration."""
    for key in keys:
        losses = np.asarray(history[key])
        window = max(len(losses) // 20, 1)
        plt.figure()
        plt.plot(losses, linewidth=0.6, alpha=0.4, label="per iteration")
        plt.plot(np.arange(window - 1, len(losses)),
                 np.convolve(losses, np.ones(window) / window, "valid"), color="tab:blue",
                 label=f"moving average of {window}")
        plt.title(f"{key}: training loss")
        plt.xlabel("iteration (solver updates)")
        plt.ylabel("contrastive loss (squared embedding distance)" if key == "siamese"
                   else "cross-entropy loss (nats)")
        plt.grid(alpha=0.3)
        plt.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)  # below the data
        savefig(f"{key}_loss.png")


def logreg_forward(x: nn.Variable) -> nn.Variable:
    with nn.parameter_scope("affine1"):
        y = PF.affine(x, 10)
    return y


def logreg_loss(y: nn.Variable, t: nn.Variable) -> nn.Variable:
    loss = F.mean(F.softmax_cross_entropy(y, t))  # Softmax Xentropy fits multi-class classification problems
    return loss


def training(x: nn.Variable, t: nn.Variable, data: Any, loss: nn.Variable, steps: int,
             learning_rate: float, key: str) -> None:
    solver = S.Sgd(learning_rate)
    solver.set_parameters(nn.get_parameters())  # Set parameter variables to be updated.
    for i in range(steps):
        x.d, t.d = data.next()
        loss.forward()
        solver.zero_grad()  # Initialize gradients of all parameters to zero.
        loss.backward()
        solver.weight_decay(1e-5)  # Applying weight decay as an regularization
        solver.update()
        history.setdefault(key, []).append(float(loss.d))
        if i % 100 == 0:  # Print for each 10 iterations
            print(i, loss.d)


def scale01(h: np.ndarray) -> np.ndarray:
    return (h - h.min()) / (h.max() - h.min())


def show_layers(x: nn.Variable, hs: List[nn.Variable], y: nn.Variable, name: str,
                title: str) -> None:
    """The first sample's input, activations and scores side by side, each panel
    titled with what its pixels are (each layer scaled to black = min, white = max)."""
    num_plot = len(hs) + 2
    gid = [1]

    def imshow(img: np.ndarray, title: str) -> None:
        plt.subplot(1, num_plot, gid[0])
        gid[0] += 1
        plt.title(title, fontsize="small")
        plt.imshow(img, **imshow_opt)
        plt.axis('off')
    plt.figure(figsize=(1.9 * num_plot, 2.8))
    imshow(x.d[0, 0], f"x: input\n{x.shape[-2]}x{x.shape[-1]} pixels")
    for hid, h in enumerate(hs):
        d = h.d[0]
        what = (f"{d.shape[0]} maps of {d.shape[1]}x{d.shape[2]}" if d.ndim == 3
                else f"{d.size} units, rows of 8")
        imshow(tile_images(d[:, None]) if d.ndim == 3 else scale01(d).reshape(-1, 8),
               f"h{hid + 1}: {what}")
    imshow(scale01(y.d[0]).reshape(2, 5), "y: scores of\ndigits 0-4 / 5-9")
    plt.suptitle(f"{title} (black = the layer's min, white = its max)", fontsize="medium")
    savefig(name)


def section_logreg(digits: Any, steps: int) -> Tuple[Any, np.ndarray]:
    data = tiny_digits.data_iterator_tiny_digits(digits, batch_size=64, shuffle=True)
    img, label = data.next()
    plt.imshow(tile_images(img), **imshow_opt)
    plt.title("a mini-batch: 64 digits of 8x8 pixels")
    plt.axis('off')
    savefig("minibatch.png")
    print("labels: {}".format(label.reshape(8, 8)))
    print("Label shape: {}".format(label.shape))

    # Static graph
    x = nn.Variable(img.shape)  # Define an image variable
    with nn.parameter_scope("affine1"):
        y = PF.affine(x, 10)  # Output is 10 class
    t = nn.Variable(label.shape)  # Define an target variable
    loss = F.mean(F.softmax_cross_entropy(y, t))
    print(x.shape, y.shape, t.shape, loss.shape)
    x.d = img
    t.d = label
    loss.forward()
    print("Prediction score of 0-th image: {}".format(y.d[0]))
    print("Loss: {}".format(loss.d))
    print(nn.get_parameters())
    for param in nn.get_parameters().values():
        param.grad.zero()
    loss.backward()
    for name, param in nn.get_parameters().items():
        print(name, param.shape, param.g.flat[:20])  # Showing first 20.

    learning_rate = 1e-3
    training(x, t, data, loss, steps, learning_rate, "logreg")

    x.d, t.d = data.next()
    y.forward()  # You can execute a sub graph.
    plt.imshow(tile_images(x.d), **imshow_opt)
    plt.title("logistic regression: the mini-batch whose predictions are printed")
    plt.axis('off')
    savefig("logreg_prediction.png")
    print("prediction:")
    print(y.d.argmax(axis=1).reshape(8, 8))
    history["logreg_accuracy"] = float(np.mean(y.d.argmax(axis=1) == t.d.ravel()))

    # Dynamic graph
    x = nn.Variable(img.shape)
    t = nn.Variable(label.shape)
    x.d, t.d = data.next()
    with nn.auto_forward():  # Graph are executed
        y = logreg_forward(x)
        loss = logreg_loss(y, t)
    print("Loss: {}".format(loss.d))
    history["logreg_dynamic_loss"] = float(loss.d)
    solver = S.Sgd(learning_rate)
    solver.set_parameters(nn.get_parameters())
    solver.zero_grad()
    loss.backward()
    return data, img


def mlp(x: nn.Variable,
        hidden: List[int] = [16, 32, 16]) -> Tuple[nn.Variable, List[nn.Variable]]:
    hs = []
    with nn.parameter_scope("mlp"):  # Parameter scope can be nested
        h = x
        for hid, hsize in enumerate(hidden):
            with nn.parameter_scope("affine{}".format(hid + 1)):
                h = F.tanh(PF.affine(h, hsize))
                hs.append(h)
        with nn.parameter_scope("classifier"):
            y = PF.affine(h, 10)
    return y, hs


def section_mlp(data: Any, img: np.ndarray, steps: int) -> None:
    nn.clear_parameters()  # Clear all parameters
    x = nn.Variable(img.shape)
    t = nn.Variable((img.shape[0], 1))
    y, hs = mlp(x)
    loss = logreg_loss(y, t)
    training(x, t, data, loss, steps, 1e-2, "mlp")
    show_layers(x, hs, y, "mlp_layers.png", "MLP: one digit's input, hidden layers and scores")


def cnn(x: nn.Variable) -> Tuple[nn.Variable, List[nn.Variable]]:
    with nn.parameter_scope("cnn"):  # Parameter scope can be nested
        with nn.parameter_scope("conv1"):
            c1 = F.tanh(PF.batch_normalization(
                PF.convolution(x, 4, (3, 3), pad=(1, 1), stride=(2, 2))))
        with nn.parameter_scope("conv2"):
            c2 = F.tanh(PF.batch_normalization(
                PF.convolution(c1, 8, (3, 3), pad=(1, 1))))
            c2 = F.average_pooling(c2, (2, 2))
        with nn.parameter_scope("fc3"):
            fc3 = F.tanh(PF.affine(c2, 32))
        with nn.parameter_scope("classifier"):
            y = PF.affine(fc3, 10)
    return y, [c1, c2, fc3]


def section_cnn(data: Any, img: np.ndarray, steps: int, context: str = 'cpu') -> str:
    from nablite.ext_utils import get_extension_context
    nn.clear_parameters()
    ctx = get_extension_context(context)  # the tutorial's 'cudnn' needs a GPU and CuPy
    print("Context: {}".format(ctx))
    nn.set_default_context(ctx)
    x = nn.Variable(img.shape)
    t = nn.Variable((img.shape[0], 1))
    y, hs = cnn(x)
    loss = logreg_loss(y, t)
    training(x, t, data, loss, steps, 1e-1, "cnn")
    show_layers(x, hs, y, "cnn_layers.png", "CNN: one digit's input, feature maps, fc3 and scores")
    # training accuracy over the whole set, with the graph of the last mini-batch size
    correct = total = 0
    for _ in range(digits_batches(data)):
        x.d, t.d = data.next()
        y.forward()
        correct += int(np.sum(y.d.argmax(axis=1) == t.d.ravel()))
        total += t.shape[0]
    history["cnn_accuracy"] = correct / total
    path_cnn_params = os.path.join(OUT, "tmp.params.cnn.h5")
    nn.save_parameters(path_cnn_params)
    return path_cnn_params


def digits_batches(data: Any) -> int:
    return max(data.size // data.batch_size, 1)


def rnn(xs: Sequence[nn.Variable], h0: nn.Variable,
        hidden: int = 32) -> Tuple[nn.Variable, List[nn.Variable]]:
    hs = []
    with nn.parameter_scope("rnn"):
        h = h0
        # Time step loop
        for x in xs:
            # Note: Parameter scopes are reused over time
            # which means parameters are shared over time.
            with nn.parameter_scope("x2h"):
                x2h = PF.affine(x, hidden, with_bias=False)
            with nn.parameter_scope("h2h"):
                h2h = PF.affine(h, hidden)
            h = F.tanh(x2h + h2h)
            hs.append(h)
        with nn.parameter_scope("classifier"):
            y = PF.affine(h, 10)
    return y, hs


def split_grid4(x: Any) -> Tuple[Any, Any, Any, Any]:
    x0 = x[..., :4, :4]
    x1 = x[..., :4, 4:]
    x2 = x[..., 4:, :4]
    x3 = x[..., 4:, 4:]
    return x0, x1, x2, x3


def section_rnn(data: Any, img: np.ndarray, steps: int) -> None:
    nn.clear_parameters()
    hidden = 32
    seq_img = split_grid4(img)
    seq_x = [nn.Variable(subimg.shape) for subimg in seq_img]
    h0 = nn.Variable((img.shape[0], hidden))  # Initial hidden state.
    y, hs = rnn(seq_x, h0, hidden)
    t = nn.Variable((img.shape[0], 1))
    loss = logreg_loss(y, t)
    solver = S.Sgd(1e-1)
    solver.set_parameters(nn.get_parameters())  # Set parameter variables to be updated.
    for i in range(steps):
        minibatch = data.next()
        img, t.d = minibatch
        seq_img = split_grid4(img)
        h0.d = 0  # Initialize as 0
        for x, subimg in zip(seq_x, seq_img):
            x.d = subimg
        loss.forward()
        solver.zero_grad()  # Initialize gradients of all parameters to zero.
        loss.backward()
        solver.weight_decay(1e-5)  # Applying weight decay as an regularization
        solver.update()
        history.setdefault("rnn", []).append(float(loss.d))
        if i % 100 == 0:  # Print for each 10 iterations
            print(i, loss.d)
    show_layers(seq_x[0], hs, y, "rnn_layers.png",
                "RNN: one digit's first quadrant, hidden states and scores")


def cnn_embed(x: nn.Variable,
              test: bool = False) -> Tuple[nn.Variable, List[nn.Variable]]:
    # Note: Identical configuration with the CNN example above.
    # Parameters pretrained in the above CNN example are used.
    with nn.parameter_scope("cnn"):
        with nn.parameter_scope("conv1"):
            c1 = F.tanh(PF.batch_normalization(PF.convolution(x, 4, (3, 3), pad=(1, 1), stride=(2, 2)), batch_stat=not test))
        with nn.parameter_scope("conv2"):
            c2 = F.tanh(PF.batch_normalization(PF.convolution(c1, 8, (3, 3), pad=(1, 1)), batch_stat=not test))
            c2 = F.average_pooling(c2, (2, 2))
        with nn.parameter_scope("fc3"):
            fc3 = PF.affine(c2, 32)
    # Additional affine for map into 2D.
    with nn.parameter_scope("embed2d"):
        embed = PF.affine(c2, 2)
    return embed, [c1, c2, fc3]


def siamese_loss(e0: nn.Variable, e1: nn.Variable, t: nn.Variable, margin: float = 1.0,
                 eps: float = 1e-4) -> nn.Variable:
    dist = F.sum(F.squared_error(e0, e1), axis=1)  # Squared distance
    # Contrastive loss
    sim_cost = t * dist
    dissim_cost = (1 - t) * \
        (F.maximum_scalar(margin - (dist + eps) ** (0.5), 0) ** 2)
    return F.mean(sim_cost + dissim_cost)


def section_siamese(digits: Any, data: Any, img: np.ndarray, path_cnn_params: str,
                    steps: int) -> None:
    nn.clear_parameters()
    # Loading CNN pretrained parameters.
    _ = nn.load_parameters(path_cnn_params)
    x0 = nn.Variable(img.shape)
    x1 = nn.Variable(img.shape)
    t = nn.Variable((img.shape[0],))  # Same class or not
    e0, hs0 = cnn_embed(x0)
    e1, hs1 = cnn_embed(x1)  # NOTE: parameters are shared
    loss = siamese_loss(e0, e1, t)

    def training_siamese(steps: int) -> None:
        for i in range(steps):
            minibatchs = []
            for _ in range(2):
                minibatch = data.next()
                minibatchs.append((minibatch[0].copy(), minibatch[1].copy()))
            x0.d, label0 = minibatchs[0]
            x1.d, label1 = minibatchs[1]
            t.d = (label0 == label1).astype(int).flat
            loss.forward()
            solver.zero_grad()  # Initialize gradients of all parameters to zero.
            loss.backward()
            solver.weight_decay(1e-5)  # Applying weight decay as an regularization
            solver.update()
            history.setdefault("siamese", []).append(float(loss.d))
            if i % 100 == 0:  # Print for each 10 iterations
                print(i, loss.d)

    learning_rate = 1e-2
    solver = S.Sgd(learning_rate)
    with nn.parameter_scope("embed2d"):
        # Only 2d embedding affine will be updated.
        solver.set_parameters(nn.get_parameters())
    training_siamese(steps)
    # Decay learning rate
    solver.set_learning_rate(solver.learning_rate() * 0.1)
    history["siamese_lr"] = solver.learning_rate()
    training_siamese(steps)

    all_image = digits.images[:512, None]
    all_label = digits.target[:512]
    x_all = nn.Variable(all_image.shape)
    x_all.d = all_image
    with nn.auto_forward():
        embed, _ = cnn_embed(x_all, test=True)
    plt.figure(figsize=(10, 7))
    for i in range(10):
        c = plt.get_cmap("tab10")(i)  # the tutorial's Set1 has 9 colours: 0 and 9 alike
        plt.plot(embed.d[all_label == i, 0].flatten(), embed.d[
                 all_label == i, 1].flatten(), '.', c=c)
    plt.legend(list(map(str, range(10))), title="digit", loc="center left",
               bbox_to_anchor=(1.01, 0.5), markerscale=2)
    plt.title("siamese network: 512 digits in the learned 2-D embedding")
    plt.xlabel("embedding dimension 1")
    plt.ylabel("embedding dimension 2")
    plt.grid()
    savefig("siamese_embedding.png")


SECTIONS = ["logreg", "mlp", "cnn", "rnn", "siamese"]


def main(out: str = "runs/by_examples", steps: int = 1000, sections: Sequence[str] = SECTIONS,
         seed: int = 0, context: str = 'cpu') -> Dict[str, Any]:
    """Run the tutorial's sections (logreg always: the others use its data); the
    CNN section and those after it run in ``context`` ('cudnn' on a GPU)."""
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"by_examples.main: unknown section(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(SECTIONS)}")
    if steps < 1:
        raise ValueError(f"by_examples.main: steps must be at least 1, got {steps}")
    global OUT
    OUT = out
    os.makedirs(out, exist_ok=True)
    history.clear()
    np.random.seed(seed)
    nn.seed(seed)
    nn.clear_parameters()
    digits = tiny_digits.load_digits(n_class=10)
    tiny_digits.plot_stats(digits)
    plt.title("the first 64 of the 1,797 digits (8x8 pixels)")
    plt.axis('off')
    savefig("digits.png")
    data, img = section_logreg(digits, steps)
    if "mlp" in sections:
        section_mlp(data, img, steps)
    params = ""
    if "cnn" in sections or "siamese" in sections:
        params = section_cnn(data, img, steps, context)
    if "rnn" in sections:
        section_rnn(data, img, steps)
    if "siamese" in sections:
        section_siamese(digits, data, img, params, 2 * steps)
    plot_losses([key for key in SECTIONS if key in history])
    return history


def section_list(text: str) -> List[str]:
    """argparse type of --sections: comma-separated names from SECTIONS."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {','.join(unknown) or repr(text)}; choose from "
            f"{','.join(SECTIONS)}")
    return names


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=(
        "Run every section of NNabla's \"NNabla by Examples\" tutorial on the bundled 8x8 "
        "digits: logistic regression, an MLP, a CNN, an Elman RNN and a siamese network "
        "(whose CNN starts from the CNN section's parameters), printing what the tutorial "
        "prints and saving its figures as PNG files. The default run (1000 steps, all "
        "sections) takes about 15 s on a 2-core machine."))
    p.add_argument("--out", default=OUT, help="folder for the figures and the CNN's "
                   "parameters (default: %(default)s)")
    p.add_argument("--steps", type=positive_int, default=1000,
                   help="training iterations per section; the siamese network trains 2 x 2 x "
                        "steps (default: %(default)s)")
    p.add_argument("--sections", type=section_list, default=SECTIONS,
                   help="comma-separated sections to run; logreg always runs, its data "
                        "feeds the others (default: " + ",".join(SECTIONS) + ")")
    p.add_argument("--context", default="cpu", choices=["cpu", "cuda", "cudnn"],
                   help="the CNN section's context, the tutorial's get_extension_context "
                        "argument; 'cudnn' needs a GPU and nablite[cuda13] (default: "
                        "%(default)s)")
    opts = p.parse_args()
    main(opts.out, opts.steps, opts.sections, context=opts.context)
    if "cnn_accuracy" in history:
        print("CNN training accuracy: {:.2%}".format(history["cnn_accuracy"]))
