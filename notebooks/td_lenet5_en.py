# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab: implementing a convolutional network — completed
#
# This notebook is the course lab *"TD : Implémentation d'un réseau convolutif"* (LeNet-5 on MNIST),
# **completed and corrected**, written on the `lenetlab` Python API; `td_lenet5.ipynb` is the French
# original. Every "your turn" ("à vous de compléter") has its answer, and every broken cell of the
# original is fixed, with a **"Fix"** note saying what was wrong:
#
# | # | in the original lab | what happens | here |
# |---|---|---|---|
# | 1 | sample grid `plt.subplot(n/4, 4, i)` | `n/4` is a float: matplotlib refuses it (`Number of rows must be a positive integer`) | integer rows and columns |
# | 2 | `images, labels = dataiter.next()` | a `DataLoader` iterator has no `.next()` method any more (PyTorch ≥ 1.13): `AttributeError` | `next(iter(loader))` |
# | 3 | `transforms.ToTensor()` one image at a time (PIL) | every epoch converts 48,000 PIL images one by one: slow | the whole data set stays in memory as tensors, batches are drawn by indexing |
# | 4 | `valid_loss = loss.item()` in the validation loop | the loss is **overwritten** at each batch: only the last batch's survives | loss **summed** over every batch, divided by the number of images |
# | 5 | `plt.plot(train_losses / np.sum(train_losses))` | each curve is divided by its own sum: the values mean nothing and the two curves no longer compare | curves plotted as they are |
#
# **To open it** (from the repository root):
#
# ```bash
# pip install -e '.[notebook]'
# jupyter lab notebooks/td_lenet5_en.ipynb
# ```
#
# The notebook's source is `notebooks/td_lenet5_en.py` (jupytext's "percent" format, see
# `docs/notebook.md`), which also runs as a script: `cd notebooks && python td_lenet5_en.py` (outside
# Jupyter, the figures are saved as PNG files in a temporary folder whose path is printed).
#
# No network is needed: MNIST (the four original IDX files) ships with the package. With the defaults of
# the parameter cell below, the whole notebook runs in a few minutes on a 2-core CPU (measured in
# `docs/notebook.md`).

# %% [markdown]
# ## Parameters
#
# This cell is tagged `parameters`: the tests replace it with small values (1 epoch) to run the whole
# notebook quickly. With these values LeNet-5 reaches 99.1 % on the test set and the MLP 98.2 %;
# `EPOCHS_LENET = 20` gives 99.3 %.

# %% tags=["parameters"]
EPOCHS_MLP = 15       # epochs of the multi-layer perceptron (about 0.6 s each on 2 idle cores)
EPOCHS_LENET = 12     # epochs of LeNet-5 (about 3.5 s each on 2 idle cores): 99.1 %
RECIPE = "default"    # "default": the project's recipe; "seed": the lab's (SGD at 0.01, ~90 % in 15 epochs)
EMBED_POINTS = 3000   # test images for the k-NN / silhouette scores and the PCA
TSNE_POINTS = 1500    # images projected by t-SNE (the slowest step of the exploration)
SEED = 0              # seed of the split, the initialisation and the batch order
EPOCHS_EXPLORE = 3    # epochs of each network in the exploration's comparisons (6.5 to 6.7)
EXPLORE_IMAGES = 12000  # training images of these comparisons (out of 48,000), so they stay quick

# %%
import dataclasses
import io
import json
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

# Without ipywidgets, tqdm warns that it cannot draw a progress bar in the notebook; we train
# without bars here (progress=False), so the warning would only be noise.
warnings.filterwarnings("ignore", message="IProgress not found")

try:
    import lenetlab
except ImportError:  # not installed: take it from src/ of the checkout (from the root or from notebooks/)
    for root in (Path.cwd(), Path.cwd().parent):
        if (root / "src" / "lenetlab").is_dir():
            sys.path.insert(0, str(root / "src"))
            break
    import lenetlab

from lenetlab import MLP, LeNet5, TrainConfig, build_model, count_parameters, evaluate, fit, load_mnist, plots
from lenetlab.data import ImageSet
from lenetlab.explore.compare import compare_variants
from lenetlab.models.lenet1998 import LeNet5_1998, prototype_bitmaps

try:  # in Jupyter, figures are displayed in the notebook
    from IPython import get_ipython
    from IPython.display import Image, display

    IN_JUPYTER = get_ipython() is not None
except ImportError:  # no IPython
    IN_JUPYTER = False
saved_figures = []  # outside Jupyter (python td_lenet5_en.py), figures are saved as PNG files


def show(fig, dpi=80):
    """Display a matplotlib figure (lenetlab.plots functions return a Figure, without pyplot)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    if IN_JUPYTER:
        display(Image(data=buffer.getvalue()))
        return
    if saved_figures:
        folder = saved_figures[0].parent
    else:
        folder = Path(tempfile.mkdtemp(prefix="td_lenet5_figures_"))
    path = folder / f"figure_{len(saved_figures) + 1:02d}.png"
    path.write_bytes(buffer.getvalue())
    saved_figures.append(path)
    print(f"[figure saved: {path}]")


def history(state):
    """The history fit returns (a list of EpochRecord) as dictionaries, for the figures."""
    return [dataclasses.asdict(r) for r in state.history]


torch.manual_seed(SEED)
print(f"lenetlab {lenetlab.__version__}, PyTorch {torch.__version__}, {torch.get_num_threads()} threads")

# %% [markdown]
# ## 1. Data
#
# MNIST: 60,000 training images and 10,000 test images, handwritten digits in 28×28 grayscale pixels.
# As in the lab, 20 % of the training images (drawn at random with a fixed seed) are held out for
# **validation**: 48,000 to learn from, 12,000 to choose the number of epochs and the recipe, and the test
# set is looked at only at the end.
#
# `load_mnist()` reads the IDX files shipped with the package (their sha256 is checked at every load) and
# keeps each part in memory: `images` (uint8, N×28×28) and `labels` (int64).

# %%
data = load_mnist(seed=SEED)
print(f"train {len(data.train):,}, validation {len(data.valid):,}, test {len(data.test):,} images")
print("images:", tuple(data.train.images.shape), data.train.images.dtype, "; labels:", data.train.labels.dtype)
print("classes:", data.class_names)
x = data.train.as_float()  # (N, 1, 28, 28) in [0, 1], as ToTensor()
print(f"pixels in [0, 1]: mean {x.mean():.4f}, std {x.std():.4f}")
print("images per class (train):", torch.bincount(data.train.labels).tolist())
del x

# %% [markdown]
# ### Fix 1 — the sample grid
#
# The lab computed the number of rows of the grid by a division, as in `plt.subplot(n/4, 4, i)`: in Python 3,
# `n/4` is a **float** (`4.0`) and matplotlib refuses a non-integer number of rows. It must be an integer:
# `math.ceil(n / columns)` (or `n // columns` when it divides exactly). `plots.samples_figure` does that.

# %%
show(plots.samples_figure(data.train.images[:16].numpy(), data.train.labels[:16].numpy(), data.class_names))

# %% [markdown]
# **Your turn: show one example of each digit.** Answer, with an integer grid:

# %%
from matplotlib.figure import Figure

columns = 5
rows = math.ceil(data.n_classes / columns)  # an integer: 2, not 2.0
fig = Figure(figsize=(1.5 * columns, 1.7 * rows), layout="constrained")
axes = fig.subplots(rows, columns)
for digit, ax in enumerate(axes.ravel()):
    first = int(torch.nonzero(data.train.labels == digit)[0])
    ax.imshow(data.train.images[first], cmap="gray")
    ax.set_title(f"{data.class_names[digit]} (image {first})", fontsize=9)
    ax.axis("off")
show(fig)

# %% [markdown]
# ### Fix 2 — `dataiter.next()`
#
# The lab took one batch with `dataiter = iter(train_loader)` then `images, labels = dataiter.next()`.
# `DataLoader` iterators have had no `.next()` method since PyTorch 1.13 (`AttributeError:
# '_SingleProcessDataLoaderIter' object has no attribute 'next'`): in Python 3 one writes
# **`next(iter(loader))`**.

# %%
from torch.utils.data import DataLoader, TensorDataset

loader = DataLoader(TensorDataset(data.train.images, data.train.labels), batch_size=64, shuffle=True)
images, labels = next(iter(loader))  # not dataiter.next()
print("one batch:", tuple(images.shape), images.dtype, "labels:", labels[:12].tolist())

# %% [markdown]
# ### Fix 3 — slow loading
#
# The lab went through `torchvision.datasets.MNIST(..., transform=transforms.ToTensor())`: at **every**
# epoch each image is converted again, one at a time (PIL image → array → tensor → division by 255), which
# costs more than the learning itself for such a small network. `lenetlab` keeps the whole data set in
# memory (47 MB of uint8) and converts a whole batch at once, by indexing. Compare on 5,000 images:

# %%
from PIL import Image as PILImage

n = 5000
t0 = time.perf_counter()
one_by_one = torch.stack([
    torch.from_numpy(np.asarray(PILImage.fromarray(img.numpy()), dtype=np.float32) / 255.0).unsqueeze(0)
    for img in data.train.images[:n]
])
t_pil = time.perf_counter() - t0
t0 = time.perf_counter()
at_once = data.train.as_float(0, n)
t_block = time.perf_counter() - t0
assert torch.allclose(one_by_one, at_once)  # exactly the same inputs
print(f"one image at a time (PIL): {1000 * t_pil:.0f} ms; at once: {1000 * t_block:.1f} ms "
      f"(about {t_pil / max(t_block, 1e-6):.0f} times faster)")


# %% [markdown]
# ## 2. Multi-layer network
#
# **Your turn: the multi-layer perceptron.** The image is flattened to a vector of 784 pixels, then two
# hidden layers of 120 and 84 units (ReLU) and an output layer of 10 scores, one per digit (no softmax:
# `cross_entropy` includes it). Answer:

# %%
class MyMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),                      # (N, 1, 28, 28) -> (N, 784)
            nn.Linear(28 * 28, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),                 # 10 scores (logits)
        )

    def forward(self, x):
        return self.net(x)


print(MyMLP()(torch.zeros(2, 1, 28, 28)).shape)
print("MyMLP:", f"{count_parameters(MyMLP()):,}", "parameters")

# %% [markdown]
# `lenetlab.MLP` is exactly this network (same layers, same sizes), with layers named `H1`, `H2`,
# `output` and a method `activations(x)` that returns the output of each (used in the exploration). The
# parameter count goes layer by layer: weights + biases.
#
# | layer | computation | parameters |
# |---|---|---:|
# | H1 | 784 × 120 + 120 | 94,200 |
# | H2 | 120 × 84 + 84 | 10,164 |
# | output | 84 × 10 + 10 | 850 |
# | **total** | | **105,214** |
#
# 90 % of the parameters are in the first layer: each unit of H1 has its own weight for each of the 784
# pixels.

# %%
mlp = MLP()
print(mlp)
per_layer = {name: count_parameters(layer) for name, layer in mlp.layers.named_children() if name != "flatten"}
print(per_layer)
assert per_layer == {"H1": 784 * 120 + 120, "H2": 120 * 84 + 84, "output": 84 * 10 + 10}
assert count_parameters(mlp) == count_parameters(MyMLP()) == 105_214
print(f"MLP: {count_parameters(mlp):,} parameters")

# %% [markdown]
# ## 3. Training
#
# **Your turn: the training loop.** For each batch: compute the scores, the cross-entropy loss, zero the
# gradients, backpropagate, take an optimisation step. After each epoch: the validation loss, **without**
# gradients and in evaluation mode.
#
# ### Fix 4 — the overwritten validation loss
#
# The lab wrote, in substance, in the validation loop:
#
# ```python
# for data, target in valid_loader:
#     output = model(data)
#     loss = criterion(output, target)
#     valid_loss = loss.item() * data.size(0)   # "=": overwrites the previous batch's value
# valid_loss = valid_loss / len(valid_loader.sampler)
# ```
#
# The `=` replaces the loss at each batch: at the end only the **last** batch's remains, divided by the
# size of the whole set — far too small a number, and one that mostly depends on the size of the last
# batch. It must be **summed** (`+=`) over every batch, then divided by the number of images. Here is the
# fixed loop, written by hand, and the lab's version to compare:

# %%
import torch.nn.functional as F


def one_epoch(model, optimizer, images, labels, batch_size=64, generator=None):
    """One training epoch; returns the mean loss per image."""
    model.train()
    order = torch.randperm(len(labels), generator=generator)
    total = 0.0
    for start in range(0, len(labels), batch_size):
        idx = order[start:start + batch_size]
        x = images[idx].unsqueeze(1).float() / 255.0
        loss = F.cross_entropy(model(x), labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(labels)


@torch.no_grad()
def validation_loss(model, images, labels, batch_size=500):
    """Fixed: the loss is SUMMED over every batch, then divided by the number of images."""
    model.eval()
    total = 0.0
    for start in range(0, len(labels), batch_size):
        x = images[start:start + batch_size].unsqueeze(1).float() / 255.0
        total += F.cross_entropy(model(x), labels[start:start + batch_size], reduction="sum").item()
    return total / len(labels)


@torch.no_grad()
def validation_loss_of_the_lab(model, images, labels, batch_size=500):
    """The lab's version, to compare: `=` instead of `+=`."""
    model.eval()
    valid_loss = 0.0
    for start in range(0, len(labels), batch_size):
        x = images[start:start + batch_size].unsqueeze(1).float() / 255.0
        loss = F.cross_entropy(model(x), labels[start:start + batch_size])
        valid_loss = loss.item() * len(x)  # the bug: overwrites instead of summing
    return valid_loss / len(labels)


torch.manual_seed(SEED)
trial = MLP()
optimizer = torch.optim.SGD(trial.parameters(), lr=0.05, momentum=0.9)
train_loss = one_epoch(trial, optimizer, data.train.images, data.train.labels,
                       generator=torch.Generator().manual_seed(SEED))
fixed = validation_loss(trial, data.valid.images, data.valid.labels)
of_the_lab = validation_loss_of_the_lab(trial, data.valid.images, data.valid.labels)
reference = evaluate(trial, data.valid).loss  # what lenetlab computes
print(f"one epoch by hand: training loss {train_loss:.4f}")
print(f"fixed validation loss {fixed:.4f}; lenetlab.evaluate {reference:.4f}; the lab's version {of_the_lab:.6f}")
assert abs(fixed - reference) < 1e-4

# %% [markdown]
# The lab's version gives a loss about twenty times too small: of the 24 batches of 500 validation images
# it keeps only the last, then divides by 12,000. `lenetlab.fit` runs the same loop, fixed, with
# reproducible shuffling and augmentation (seeds), a learning-rate schedule and, given a folder, saving the
# weights of the best epoch.
#
# ### The recipe
#
# `TrainConfig.from_preset(RECIPE)` describes the whole training:
#
# - `"seed"`: the lab's recipe (SGD at 0.01, batches of 256, 15 epochs). Correct but slow: LeNet-5 only
#   reaches about 90 % in 15 epochs, its loss still falling.
# - `"default"`: the project's recipe — SGD with Nesterov momentum 0.9, a one-cycle learning rate up to
#   0.05 (linear rise then linear decay to 0), batches of 128, label smoothing 0.1, random shifts of ±2
#   pixels, weight decay 5e-4. Same network, 99.3 % in 20 epochs.

# %%
config_mlp = TrainConfig.from_preset(RECIPE, model="mlp", epochs=EPOCHS_MLP, seed=SEED)
print(config_mlp)
torch.manual_seed(SEED)
mlp = MLP()
t0 = time.perf_counter()
state_mlp = fit(mlp, data, config_mlp, progress=False)
seconds_mlp = time.perf_counter() - t0
print(f"MLP: {EPOCHS_MLP} epochs in {seconds_mlp:.1f} s")

# %% [markdown]
# ### Fix 5 — loss curves divided by their sum
#
# The lab plotted `plt.plot(train_losses / np.sum(train_losses))`, and the same for validation. Dividing
# each curve by its **own** sum keeps its shape but changes its scale: the values are no longer losses, and
# the two curves, divided by different numbers, no longer compare (yet comparing training and validation
# is what shows overfitting). Plot them **as they are**:

# %%
show(plots.loss_curves_figure(history(state_mlp)))


# %% [markdown]
# **Why is the training loss above the validation loss?** With the `default` recipe the training loss is
# measured on shifted images (augmentation) and with label smoothing: the target is no longer 1 for the
# right class but 0.91, so this loss cannot go below about 0.5. The validation loss is the plain
# cross-entropy on unmodified images. Overfitting would show as a validation loss that goes **up**; that
# loss is what picks the best epoch.

# %% [markdown]
# ## 4. Evaluation
#
# The test set is evaluated once, at the end, on the 10,000 test images. `evaluate` returns the loss, the
# accuracy, the per-class accuracy and the confusion matrix.
#
# **Your turn: the accuracy of each class.** Answer:

# %%
def per_class_table(result, class_names):
    matrix = np.asarray(result.confusion_matrix)
    for k, name in enumerate(class_names):
        right, total = int(matrix[k, k]), int(matrix[k].sum())
        print(f"Test accuracy of digit {name}: {100 * right / total:5.1f} % ({right:4d}/{total:4d})")
    right, total = int(np.trace(matrix)), int(matrix.sum())
    print(f"Overall test accuracy: {100 * right / total:5.2f} % ({right}/{total})")


result_mlp = evaluate(mlp, data.test)
print(f"Test accuracy (MLP): {100 * result_mlp.accuracy:.2f} %, loss {result_mlp.loss:.4f}")
per_class_table(result_mlp, data.class_names)

# %%
show(plots.per_class_accuracy_figure(result_mlp.per_class_accuracy, data.class_names))
show(plots.confusion_matrix_figure(result_mlp.confusion_matrix, data.class_names))


# %% [markdown]
# Predictions on the first test images ("predicted (true)", red when wrong), then errors only:

# %%
def show_predictions(result, title):
    test_images, truth = data.test.images.numpy(), data.test.labels.numpy()
    predicted = result.predictions.numpy()
    show(plots.predictions_figure(test_images, predicted, truth, data.class_names, n=20))
    errors = np.flatnonzero(predicted != truth)[:20]
    print(f"{title}: {len(np.flatnonzero(predicted != truth))} errors out of {len(truth)}; the first ones:")
    if len(errors):
        show(plots.predictions_figure(test_images[errors], predicted[errors], truth[errors], data.class_names,
                                      n=len(errors)))


show_predictions(result_mlp, "MLP")


# %%
def top_confusions(result, k=5):
    """The k most frequent (true, predicted) pairs off the diagonal."""
    matrix = np.array(result.confusion_matrix)
    np.fill_diagonal(matrix, 0)
    pairs = np.dstack(np.unravel_index(np.argsort(matrix, axis=None)[::-1][:k], matrix.shape))[0]
    return [(data.class_names[i], data.class_names[j], int(matrix[i, j])) for i, j in pairs]


for true, predicted, count in top_confusions(result_mlp):
    print(f"{true} taken for {predicted}: {count} times")

# %% [markdown]
# **Which digits does the network confuse?** The list above, computed from the confusion matrix, answers
# for your run. It usually holds pairs of similar shapes (4 and 9, 7 and 2, 3 and 5, 8 and 3…). A
# perceptron looks at pixels at fixed positions: a digit shifted by two pixels is another image to it.
# That is what the convolutional network fixes.

# %% [markdown]
# ## 5. Convolutional network LeNet-5
#
# LeNet-5 (LeCun et al., 1998), as the lab describes it:
#
# | layer | operation | output |
# |---|---|---|
# | C1 | convolution 1 → 6, 5×5 kernel, stride 1, padding 2, tanh | 6 × 28 × 28 |
# | S2 | subsampling: 2×2 average, stride 2 | 6 × 14 × 14 |
# | C3 | convolution 6 → 16, 5×5, tanh | 16 × 10 × 10 |
# | S4 | 2×2 average, stride 2 | 16 × 5 × 5 |
# | C5 | convolution 16 → 120, 5×5, tanh | 120 × 1 × 1 |
# | F6 | linear 120 → 84, tanh | 84 |
# | output | linear 84 → 10 | 10 |
#
# (The lab writes "padding of 2" for S2: a 2×2 pooling cannot take a padding of 2 — PyTorch refuses it —;
# it means a **stride** of 2, as in the paper.)
#
# **Your turn: the LeNet-5 class** with a `feature_extractor` (C1 to C5) and a `classifier` (F6, output).
# It is `lenetlab.LeNet5`, where every choice is a constructor argument (activation, pooling type, numbers
# of maps, kernel size…). The output sizes, layer by layer:

# %%
torch.manual_seed(SEED)
lenet = LeNet5()
print(lenet)
with torch.no_grad():
    for name, output in lenet.activations(torch.zeros(1, 1, 28, 28)).items():
        print(f"{name:>6}: {tuple(output.shape[1:])}")

# %% [markdown]
# **Your turn: the number of parameters, layer by layer.** A convolution from `c_in` maps to `c_out`
# maps with `k × k` kernels has `c_out × (c_in × k × k)` weights plus `c_out` biases: one kernel per
# (input, output) pair, **shared** by every position of the image. A linear layer has `n_in × n_out`
# weights plus `n_out` biases. Average poolings have no parameter.
#
# | layer | computation | parameters |
# |---|---|---:|
# | C1 | 6 × (1 × 5 × 5) + 6 | 156 |
# | S2 | — | 0 |
# | C3 | 16 × (6 × 5 × 5) + 16 | 2,416 |
# | S4 | — | 0 |
# | C5 | 120 × (16 × 5 × 5) + 120 | 48,120 |
# | F6 | 120 × 84 + 84 | 10,164 |
# | output | 84 × 10 + 10 | 850 |
# | **total** | | **61,706** |
#
# C5 holds 78 % of the parameters. In the 1998 paper the total is 60,000: S2 and S4 there have a trainable
# coefficient and bias per map (12 and 32 parameters), C3 connects each map to only some of S2's maps
# (1,516 parameters instead of 2,416) and the output is made of 10 RBF units with hand-set weights:
# 156 + 12 + 1,516 + 32 + 48,120 + 10,164 = 60,000.

# %%
layers = {**dict(lenet.feature_extractor.named_children()), **dict(lenet.classifier.named_children())}
formulas = {"C1": 6 * (1 * 5 * 5) + 6, "S2": 0, "C3": 16 * (6 * 5 * 5) + 16, "S4": 0,
            "C5": 120 * (16 * 5 * 5) + 120, "F6": 120 * 84 + 84, "output": 84 * 10 + 10}
for name, expected in formulas.items():
    count = count_parameters(layers[name])
    print(f"{name:>6}: {count:6,} parameters")
    assert count == expected, (name, count, expected)
assert count_parameters(lenet) == sum(formulas.values()) == 61_706
print(f"LeNet-5: {count_parameters(lenet):,} parameters")
print(f"MLP: {count_parameters(mlp):,} parameters")

# %% [markdown]
# LeNet-5 has **40 % fewer parameters** than the MLP. Train it with the same recipe:

# %%
config_lenet = TrainConfig.from_preset(RECIPE, model="lenet5", epochs=EPOCHS_LENET, seed=SEED)
torch.manual_seed(SEED)
lenet = LeNet5()
t0 = time.perf_counter()
state_lenet = fit(lenet, data, config_lenet, progress=False)
seconds_lenet = time.perf_counter() - t0
print(f"LeNet-5: {EPOCHS_LENET} epochs in {seconds_lenet:.1f} s (lowest validation loss at epoch {state_lenet.best_epoch})")

# %%
show(plots.loss_curves_figure(history(state_lenet)))

# %%
result_lenet = evaluate(lenet, data.test)
print(f"Test accuracy (LeNet-5): {100 * result_lenet.accuracy:.2f} %, loss {result_lenet.loss:.4f}")
per_class_table(result_lenet, data.class_names)
show(plots.per_class_accuracy_figure(result_lenet.per_class_accuracy, data.class_names))
show(plots.confusion_matrix_figure(result_lenet.confusion_matrix, data.class_names))

# %%
show_predictions(result_lenet, "LeNet-5")
for true, predicted, count in top_confusions(result_lenet):
    print(f"{true} taken for {predicted}: {count} times")

# %% [markdown]
# **Your turn: compare the two networks.**

# %%
# Sorted by validation accuracy (it is what chooses); the test, beside it, is what we report.
networks = [("MLP", mlp, result_mlp, seconds_mlp, EPOCHS_MLP),
            ("LeNet-5", lenet, result_lenet, seconds_lenet, EPOCHS_LENET)]
validation = {name: evaluate(model, data.valid).accuracy for name, model, *_ in networks}
print(f"{'network':<9} {'parameters':>10} {'validation':>11} {'test':>8} {'errors':>8} {'epochs':>8} {'seconds':>9}")
for name, model, result, seconds, epochs in sorted(networks, key=lambda r: -validation[r[0]]):
    errors = round((1 - result.accuracy) * len(data.test))
    print(f"{name:<9} {count_parameters(model):>10,} {100 * validation[name]:>10.2f}% {100 * result.accuracy:>7.2f}% "
          f"{errors:>8} {epochs:>8} {seconds:>9.1f}")

# %% [markdown]
# **Answer.** With 40 % fewer parameters, LeNet-5 makes two to three times fewer errors than the MLP (see
# the table printed above). Size is not what matters but what the architecture knows about images in
# advance:
#
# - **locality**: a C1 unit looks at a 5×5 patch only, where an MLP unit has a weight for each of the
#   784 pixels;
# - **weight sharing**: the same kernel is applied at every position; a stroke detected at the top left is
#   detected at the bottom right too, and each weight serves hundreds of times (hence more computation for
#   fewer parameters, see the exploration);
# - **subsampling**: S2 and S4 make the response insensitive to a shift of one or two pixels.
#
# In return, an epoch of LeNet-5 costs more than an epoch of the MLP.

# %% [markdown]
# ## 6. Exploration
#
# What is inside the trained networks? The functions of `lenetlab.explore` answer on the models in memory
# (the command line `lenetlab explore ...` does the same on a run folder).
#
# ### 6.1 Parameters and computation, layer by layer
#
# MACs: multiply-accumulates per image (one per use of a weight).

# %%
from lenetlab.explore.figures import params_figure
from lenetlab.explore.params import format_table, params_report

report = params_report({"LeNet-5": lenet, "MLP": mlp})
for name, table in report.items():
    print(format_table(name, table), end="\n\n")
show(params_figure(report))

# %% [markdown]
# The MLP has more parameters but LeNet-5 does about **4 times more computation** per image: each C1
# weight is used 28 × 28 = 784 times (once per position), each C3 weight 100 times. Weight sharing trades
# parameters for computation.
#
# ### 6.2 Learned filters and classic filters
#
# C1's six 5×5 kernels, compared with a bank of classic image-processing filters (Sobel, Prewitt,
# Laplacian of Gaussian, Gaussian, Gabor at 8 orientations). The similarity is the cosine between the two
# kernels seen as vectors of 25 numbers, in absolute value (a kernel and its negative detect the same
# edge): 1 = identical up to scale and sign.

# %%
from lenetlab.explore.figures import filters_figure, kernel_grid_figure
from lenetlab.explore.filters import best_matches, classic_filters, conv_weights

bank = classic_filters(5)
kernels_c1 = conv_weights(lenet, "C1")[:, 0]  # (6, 5, 5)
matches = best_matches(kernels_c1, bank)
for i, m in enumerate(matches):
    print(f"kernel {i}: closest is {m['best']:<16} cosine {m['similarity']:.2f}")
learned = float(np.mean([m["similarity"] for m in matches]))

# The honest baseline: random kernels also find a fairly close filter in a bank of 22. Measure it on
# 50 untrained initialisations of LeNet-5.
random_kernels = [np.mean([m["similarity"] for m in best_matches(conv_weights(LeNet5(), "C1")[:, 0], bank)])
                  for _ in range(50)]
print(f"mean cosine to the closest classic filter: learned kernels {learned:.2f}, "
      f"random kernels {np.mean(random_kernels):.2f} ± {np.std(random_kernels):.2f}")
show(filters_figure(kernels_c1, matches, bank, "C1 of LeNet-5: 6 learned 5x5 kernels"))

# %% [markdown]
# Compare the two means before concluding: the gap to random kernels says whether training brought the
# kernels closer to edge and bar filters (Sobel, Gabor). C3's kernels (16 maps × 6 inputs) read less
# easily: they combine C1's maps, not pixels.

# %%
show(kernel_grid_figure(conv_weights(lenet, "C3"), "C3: 16 maps x 6 inputs, 5x5 kernels", "C3", "S2"))

# %% [markdown]
# ### 6.3 Feature maps
#
# What each layer makes of one test image: C1's maps (edges in different directions), reduced by S2,
# combined by C3, then the vectors of C5 (120 values) and F6 (84 values).

# %%
from lenetlab.explore.feature_maps import layer_activations
from lenetlab.explore.figures import feature_maps_figure

lenet.eval()
index = 0
image = data.test.as_float(index, index + 1)[0, 0].numpy()
maps = layer_activations(lenet, image)
probabilities = torch.softmax(torch.as_tensor(maps.pop("output")), 0)
caption = (f"test image {index} (label {data.class_names[int(data.test.labels[index])]}): "
           f"predicts {data.class_names[int(probabilities.argmax())]} at {100 * float(probabilities.max()):.1f} %")
print({name: v.shape for name, v in maps.items()})
show(feature_maps_figure(image, maps, caption))

# %% [markdown]
# ### 6.4 The learned representations: PCA and t-SNE
#
# Each network turns the image into a vector before deciding: the MLP's hidden layer H1 (120 values), C5
# (120) and F6 (84) for LeNet-5. Are they better ordered by class than the raw pixels? Two measures,
# computed **in each representation's own space** (not in the 2-d drawing):
#
# - the accuracy of a **k-nearest-neighbours** classifier (k = 5, 5-fold cross-validation): are an image's
#   neighbours of its class?
# - the **silhouette score** of the true classes (from -1 to 1): do the classes form compact, separate
#   clusters?
#
# Then two 2-d projections to look at: PCA (linear) and t-SNE (which preserves neighbourhoods), on the
# first `TSNE_POINTS` images of the sample; the scores in the titles are those of the `EMBED_POINTS` images.

# %%
from lenetlab.explore.embeddings import project, representations, separation_scores
from lenetlab.explore.figures import embeddings_figure

mlp.eval()
n_points = min(EMBED_POINTS, len(data.test))
sample = torch.randperm(len(data.test), generator=torch.Generator().manual_seed(SEED))[:n_points]
sample_labels = data.test.labels[sample].numpy()
reps = representations(lenet, mlp, data.test.as_float()[sample])
scores = {name: separation_scores(x, sample_labels, seed=SEED) for name, x in reps.items()}
print(f"{n_points} test images")
for name, s in scores.items():
    print(f"{name:<9} {s['dimensions']:>4} dimensions  5-NN {100 * s['knn_accuracy']:6.2f} %  "
          f"silhouette {s['silhouette']:+.3f}")

# %%
pca = {name: project(x, "pca", SEED) for name, x in reps.items()}
show(embeddings_figure(pca, sample_labels, scores, "pca", data.class_names))

# %%
n_tsne = min(TSNE_POINTS, n_points)
t0 = time.perf_counter()
tsne = {name: project(x[:n_tsne], "tsne", SEED) for name, x in reps.items()}
print(f"t-SNE of {n_tsne} images, {len(reps)} representations: {time.perf_counter() - t0:.1f} s")
show(embeddings_figure(tsne, sample_labels[:n_tsne], scores, "tsne", data.class_names))

# %% [markdown]
# **Reading.** The raw pixels are already fairly well ordered for a k-NN (MNIST is an easy data set), but
# the classes overlap (silhouette near 0). Each network, trained to separate the classes, tightens them:
# the silhouette rises a little in the MLP's hidden layer (H1) and clearly in LeNet-5's C5 and F6, F6 (the
# last layer before the decision) first; the k-NN follows the same order. t-SNE exaggerates clusters — that
# is its nature —, hence the scores computed in the original space. (The exact numbers depend on your run:
# they are printed above and in the title of each plot.)

# %% [markdown]
# ### 6.5 Convolution or fully connected layers, at the same depth
#
# LeNet-5 beats the MLP with fewer parameters. Is it the **convolution**, or only the **depth** (LeNet-5
# has six layers, the MLP three)? To find out, three networks are trained with the same recipe, on the
# same images:
#
# - LeNet-5;
# - an MLP with about as many parameters as LeNet-5 (two hidden layers);
# - a fully connected network **of LeNet-5's depth**: each layer has as many units as the LeNet-5 layer it
#   replaces (S2: 6 × 14 × 14 = 1,176, S4: 16 × 5 × 5 = 400, then 120 and 84), but every unit sees the
#   whole layer below and nothing is shared.
#
# To keep this part quick, each network sees the first `EXPLORE_IMAGES` training images for
# `EPOCHS_EXPLORE` epochs. The tables of this part are **sorted by validation accuracy**: that is what
# chooses a model. The test accuracy is shown beside it, for information; choosing on the test set would
# be cheating on the final mark.

# %%
def train_variant(model_name, args=None, recipe=RECIPE):
    """Train a model on the first EXPLORE_IMAGES images; its accuracy (validation, test)."""
    args = dict(args or {})
    subset = dataclasses.replace(
        data, train=ImageSet(data.train.images[:EXPLORE_IMAGES], data.train.labels[:EXPLORE_IMAGES]))
    config = TrainConfig.from_preset(recipe, model=model_name, model_args=args, epochs=EPOCHS_EXPLORE, seed=SEED)
    torch.manual_seed(SEED)
    model = build_model(model_name, **args)
    t0 = time.perf_counter()
    fit(model, subset, config, progress=False, log=None)
    return {"model": model, "parameters": count_parameters(model), "seconds": time.perf_counter() - t0,
            "validation": evaluate(model, data.valid).accuracy, "test": evaluate(model, data.test).accuracy}


def sorted_table(results):
    """The results sorted by validation accuracy (the best on top), the test beside it."""
    width = max(len(name) for name in results)
    print(f"{'network':<{width}} {'parameters':>11} {'validation':>11} {'test':>9} {'seconds':>9}")
    for name, r in sorted(results.items(), key=lambda item: -item[1]["validation"]):
        print(f"{name:<{width}} {r['parameters']:>11,} {100 * r['validation']:>10.2f}% {100 * r['test']:>8.2f}% "
              f"{r['seconds']:>9.1f}")


comparison_names = {"lenet5": "LeNet-5", "mlp-same-params": "MLP, same size",
                    "fc-same-depth": "fully connected, same depth"}
comparison = {comparison_names[v.name]: train_variant(v.model, v.model_args) for v, _ in compare_variants()}
sorted_table(comparison)

# %% [markdown]
# **Reading.** The fully connected network of the same depth has about **24 times more parameters** than
# LeNet-5 (1,453,094 against 61,706): depth alone does not explain LeNet-5's advantage, since at the same
# depth, without weight sharing, it takes far more parameters for a result that is no better. What the
# convolution brings is a **prior** about images: local detectors, applied everywhere. (The exact
# accuracies depend on your run and the number of epochs; with all the images and 10 epochs,
# `lenetlab explore compare` gives the numbers in `docs/explore.md`.)
#
# ### 6.6 Stride, padding and kernel size
#
# Each convolution of `LeNet5` has its own settings: `kernel_size`, `stride` and `padding` for C1
# (`kernel_size` is also C3's), `c3_kernel`, `c3_stride`, `c3_padding` for C3. By default C5's kernel
# **follows** the size of what reaches it: C5 stays "fully connected to S4", as in the paper, and its
# output is 1 × 1. The eight combinations of `stride` ∈ {1, 2}, `padding` ∈ {0, 2} and `kernel_size` ∈
# {3, 5} are therefore all valid. The sizes first, then the training:

# %%
grid = [{"stride": s, "padding": p, "kernel_size": k} for s in (1, 2) for p in (0, 2) for k in (3, 5)]
for args in grid:
    variant_layers = LeNet5(**args).activations(torch.zeros(1, 1, 28, 28))
    sizes = " → ".join(f"{name} {output.shape[-1]}×{output.shape[-1]}" for name, output in variant_layers.items()
                       if output.dim() == 4)
    print(f"stride {args['stride']}, padding {args['padding']}, kernel {args['kernel_size']}: {sizes}; "
          f"{count_parameters(LeNet5(**args)):,} parameters")

# %%
study = {f"stride {a['stride']}, padding {a['padding']}, kernel {a['kernel_size']}": train_variant("lenet5", a)
         for a in grid}
sorted_table(study)

# %%
fig = Figure(figsize=(7, 3.6), layout="constrained")
ax = fig.subplots()
order = sorted(study, key=lambda name: study[name]["validation"])
ax.barh(range(len(order)), [100 * study[name]["validation"] for name in order], color="#0969da", label="validation")
ax.plot([100 * study[name]["test"] for name in order], range(len(order)), "o", mfc="none", color="#bf8700",
        label="test (for information)")
ax.set_yticks(range(len(order)), [f"{name} ({study[name]['parameters']:,} params)" for name in order], fontsize=7)
ax.set_xlim(min(100 * min(r["validation"], r["test"]) for r in study.values()) - 2, 100)
ax.set_xlabel("accuracy (%)")
ax.set_title(f"Stride, padding, kernel: {EPOCHS_EXPLORE} epoch(s), {EXPLORE_IMAGES:,} images", fontsize=9)
ax.legend(fontsize=7, loc="lower right")
show(fig)

# %% [markdown]
# **Reading.** A `stride` of 2 in C1 halves the size of every later map: 4 times less computation in C3
# and far fewer parameters in C5, at the price of a coarser view of the image. A `padding` of 2 keeps the
# image's borders (MNIST's digits are far from them, hence a small effect). 3×3 kernels give **more**
# parameters than 5×5 here: S4 is then larger (6×6 instead of 5×5), and C5, which covers all of it, takes
# 6×6 kernels: 120 × 16 × 36 = 69,120 weights instead of 48,000. The command line runs the same study on
# all the images, resumable after an interruption:
# `lenetlab explore sweep --vary stride=1,2 --vary padding=0,2 --vary kernel_size=3,5`.
#
# ### 6.7 The paper's LeNet-5 (1998) and the lab's
#
# The lab's LeNet-5 simplifies the one of LeCun, Bottou, Bengio and Haffner (1998). `lenetlab` also
# provides the paper's, `lenet5-1998`, faithful to its section II.B and appendices A and C:
#
# - the 28×28 image is centred in a 32×32 field, background -0.1 and ink 1.175 (mean ≈ 0, variance ≈ 1);
# - S2 and S4 **add** their four inputs, multiply by a trainable coefficient and add a bias, per map, then
#   apply the activation function;
# - C3 connects each map to only 3, 4 or 6 of S2's maps (the paper's Table I): 1,516 parameters;
# - the activation function is f(a) = 1.7159 tanh(2a/3), chosen so that f(±1) = ±1;
# - the output is 10 RBF units: y_i = Σ_j (x_j − w_ij)², where each w_i is a 7×12 drawing fixed by hand
#   (+1 for ink, −1 for background); the predicted class is the one whose drawing is closest to F6's
#   output, and the loss is the MAP criterion of equation (9);
# - the weights start uniform in ±2.4 / F_in (F_in: the unit's number of inputs);
# - the optimiser is stochastic diagonal Levenberg-Marquardt (SDLM), one step size per weight set by an
#   estimate of the second derivative.
#
# Total: **60,000 trainable parameters**. Here are the output layer's drawings, then the two networks
# trained under the same conditions (the 1998 LeNet-5 with the paper's recipe, `paper`). Here `fit`
# keeps the validation images apart; `lenetlab train --preset paper` trains, like the paper, on all
# 60,000 images and keeps the last pass.

# %%
lenet_1998 = LeNet5_1998()
for name, stage in lenet_1998.stages():
    if name != "flatten":
        print(f"{name:>6}: {count_parameters(stage):>6,} parameters")
print(f"LeNet-5 (1998): {count_parameters(lenet_1998):,} parameters")
assert count_parameters(lenet_1998) == 60_000

fig = Figure(figsize=(7, 1.6), layout="constrained")
for digit, ax in enumerate(fig.subplots(1, 10)):
    ax.imshow(prototype_bitmaps()[digit], cmap="gray_r", vmin=-1, vmax=1)
    ax.set_title(str(digit), fontsize=8)
    ax.axis("off")
show(fig)

# %%
recipes = {"LeNet-5 of the lab (project's recipe)": ("lenet5", RECIPE), "LeNet-5 of 1998 (paper's recipe)":
           ("lenet5-1998", "paper")}
paper_side_by_side = {name: train_variant(model, recipe=recipe) for name, (model, recipe) in recipes.items()}
sorted_table(paper_side_by_side)

# %% [markdown]
# **Reading.** On this small training, compare the two rows; on all the images and 20 passes,
# `lenetlab paper --models lenet5-1998 --epochs 20 --ablation` trains the paper's network with its recipe,
# then the **ablation**: each 1998 choice replaced, one at a time, by its modern counterpart (full C3,
# plain tanh, average pooling, linear output with cross-entropy, SGD with momentum). The measured numbers,
# and where our SDLM departs from the paper's, are in the README.
#
# ### 6.8 Going further
#
# The command line trains and compares into a folder of runs (resumable after an interruption):
#
# - `lenetlab explore sweep --vary activation=tanh,relu --vary pooling=avg,max` (a grid of variants);
# - `lenetlab explore compare` (the comparison of 6.5 on all the images);
# - `lenetlab paper` (the 1998 paper's table, reproduced, with `lenet5-1998`).

# %% [markdown]
# ## Summary
#
# This run's numbers, on one line (the repository's tests read it):

# %%
summary = {
    "parameters": {"MLP": count_parameters(mlp), "LeNet-5": count_parameters(lenet)},
    "test_accuracy": {"MLP": round(result_mlp.accuracy, 4), "LeNet-5": round(result_lenet.accuracy, 4)},
    "epochs": {"MLP": EPOCHS_MLP, "LeNet-5": EPOCHS_LENET},
    "seconds": {"MLP": round(seconds_mlp, 1), "LeNet-5": round(seconds_lenet, 1)},
    "recipe": RECIPE,
    "validation_loss_hand_written_epoch": {"fixed": round(fixed, 6), "lenetlab": round(reference, 6),
                                           "lab": round(of_the_lab, 6)},
    "c1_filters_cosine": {"learned": round(learned, 3), "random": round(float(np.mean(random_kernels)), 3)},
    "knn": {name: s["knn_accuracy"] for name, s in scores.items()},
    "silhouette": {name: s["silhouette"] for name, s in scores.items()},
    "exploration": {name: {"parameters": r["parameters"], "validation": round(r["validation"], 4),
                           "test": round(r["test"], 4)} for name, r in {**comparison, **study, **paper_side_by_side}.items()},
}
print("SUMMARY " + json.dumps(summary))
