"""LeNet-5 as LeCun, Bottou, Bengio and Haffner published it in 1998 (section II.B, appendices A and C).

What the course's LeNet-5 (``lenet5``) simplifies, kept here:

- the 28x28 digit is centred in a 32x32 field, background -0.1 and ink 1.175 (mean about 0, variance
  about 1), and C1 has no padding;
- S2 and S4 are *subsampling* layers: the four inputs are added, multiplied by one trainable
  coefficient per map, a trainable bias is added, and the result goes through the squashing function;
- C3 connects each of its 16 maps to only some of S2's 6 maps (Table I): 1,516 parameters, not 2,416;
- the squashing function is f(a) = A tanh(S a), A = 1.7159, S = 2/3 (so f(±1) = ±1);
- the output is 10 Euclidean RBF units, y_i = sum_j (x_j - w_ij)^2, whose parameter vectors are fixed
  7x12 bitmaps of the stylised digits (+1 ink, -1 background), not trained;
- the loss is the MAP criterion of equation (9), y_D + log(e^-j + sum_i e^-y_i);
- every weight and bias starts uniform in ±2.4 / F_in, F_in the fan-in of its unit (``init="fan-in"``,
  the printed formula). ``init="root-fan-in"`` starts C1, C3, C5 and F6 in ±2.4 / sqrt(F_in) and keeps
  S2 and S4 in ±2.4 / 4: what the paper says the rule is for ("the initial standard deviation of the
  weighted sums in the normal operating region of the sigmoid"). F_in inputs with their own random
  weights add up like sqrt(F_in) (the LeCun lab's EBLearn MNIST demo starts them in ±1 / sqrt(F_in));
  a subsampling unit's one coefficient multiplies the sum of 4 neighbouring, nearly equal inputs,
  which adds up like 4. The printed rule leaves C5's weighted sums near 0.07 of their inputs' size,
  and the paper's per-image SDLM then stays at chance; ±2.4 / sqrt(F_in) for S2 and S4 too starts
  them saturated and ends at 2.49 % test error (lenetlab/paper_sdlm.py, docs/paper.md).

60,000 trainable parameters. The model returns ``-y`` (minus the penalties) as its logits, so the
predicted class is the arg max, as for every other model, and softmax(-y) is the class posterior the
MAP criterion assumes.

Deviations, named: the 7x12 bitmaps are drawn by eye from the paper's Figure 3 (it prints no table);
the constant j of equation (9) is not given in the paper (:data:`MAP_J` is our choice); F_in of a
subsampling unit is taken as its 4 inputs. Each 1998 choice can be switched to its modern counterpart
(``c3_table=False``, ``activation="tanh"``, ``subsampling="avg"``, ``output="linear"``) for the
ablation of ``lenetlab paper``.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .base import StagedModel

# f(a) = A tanh(S a): f(1) = 1 and f(-1) = -1, where the second derivative of f is largest (appendix A).
SQUASH_A, SQUASH_S = 1.7159, 2.0 / 3.0
# The weights' starting range: ±2.4 / F_in as printed, or ±2.4 / sqrt(F_in) (see the module's docstring).
INITS = ("fan-in", "root-fan-in")
# The 32x32 field: background -0.1, ink 1.175 (section II.B).
BACKGROUND, INK = -0.1, 1.175
# Equation (9)'s constant j (positive; the paper does not give its value). A penalty above j is no
# longer pushed up, so the incorrect classes stop being repelled once they are far from the output.
MAP_J = 20.0

# Table I: which S2 maps (rows 0-5) each C3 map (columns 0-15) takes, as printed in the paper.
C3_TABLE = (
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
)

# The RBF units' parameter vectors, digits 0 to 9 from left to right: 7 wide, 12 high, '#' = +1, '.' = -1
# (drawn after Figure 3).
PROTOTYPES = """
..###..  ...#...  .#####.  .#####.  ....##.  #######  ..####.  #######  .#####.  .#####.
.#...#.  ..##...  #.....#  #.....#  ...#.#.  #......  .#.....  ......#  #.....#  #.....#
#.....#  .#.#...  ......#  ......#  ..#..#.  #......  #......  .....#.  #.....#  #.....#
#.....#  ...#...  ......#  ......#  .#...#.  #......  #......  .....#.  #.....#  #.....#
#.....#  ...#...  .....#.  ......#  #....#.  ######.  ######.  ....#..  .#####.  #.....#
#.....#  ...#...  ....#..  ..####.  #######  ......#  #.....#  ....#..  #.....#  .######
#.....#  ...#...  ...#...  ......#  .....#.  ......#  #.....#  ...#...  #.....#  ......#
#.....#  ...#...  ..#....  ......#  .....#.  ......#  #.....#  ...#...  #.....#  ......#
#.....#  ...#...  .#.....  ......#  .....#.  ......#  #.....#  ..#....  #.....#  ......#
.#...#.  ...#...  #......  #.....#  .....#.  #.....#  #.....#  ..#....  #.....#  .....#.
..###..  .#####.  #######  .#####.  .....#.  .#####.  .#####.  ..#....  .#####.  .####..
.......  .......  .......  .......  .......  .......  .......  .......  .......  .......
"""


def c3_connections() -> torch.Tensor:
    """Table I as a (16, 6) boolean tensor: ``[c3_map, s2_map]`` is True where they are connected.

    Examples
    --------
    >>> table = c3_connections()
    >>> table.sum(1).tolist()  # S2 maps seen by each C3 map
    [3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6]
    """
    return torch.tensor(c3_table_rows(), device="cpu")


def c3_table_rows() -> list[list[bool]]:
    """Table I as nested lists, ``[c3_map][s2_map]`` (no tensor: models are first sized on the meta device)."""
    return [[row[c] == "X" for row in C3_TABLE] for c in range(16)]


def prototype_bitmaps() -> torch.Tensor:
    """The 10 RBF parameter vectors as (10, 12, 7) tensors of ±1."""
    rows = [row.split() for row in PROTOTYPES.strip().splitlines()]  # 12 rows of 10 glyphs
    return torch.tensor([[[1.0 if ch == "#" else -1.0 for ch in row[d]] for row in rows] for d in range(10)])


class ScaledTanh(nn.Module):
    """The 1998 squashing function f(a) = 1.7159 tanh(2a/3)."""

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return SQUASH_A * torch.tanh(SQUASH_S * a)

    @staticmethod
    def derivative(a: torch.Tensor) -> torch.Tensor:
        return SQUASH_A * SQUASH_S * (1 - torch.tanh(SQUASH_S * a) ** 2)


class PaperField(nn.Module):
    """The 28x28 input in [0, 1] (what every lenetlab model receives) -> the paper's 32x32 field."""

    def forward(self, ink: torch.Tensor) -> torch.Tensor:
        return F.pad(BACKGROUND + (INK - BACKGROUND) * ink, (2, 2, 2, 2), value=BACKGROUND)


class Subsampling(nn.Module):
    """S2 / S4: the sum of each 2x2 window times one trainable coefficient per map, plus one bias per map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def window_sums(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) * 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.window_sums(x) * self.weight[:, None, None] + self.bias[:, None, None]


class SparseConv2d(nn.Module):
    """A 5x5 convolution where output map o sees input map i only where ``connections[o, i]``.

    Only the connected kernels are parameters (``weight``: one 5x5 kernel per connection), so the
    parameter count is the paper's; :meth:`dense_weight` scatters them into an ordinary conv weight.
    """

    def __init__(self, connections: list[list[bool]], kernel_size: int = 5) -> None:
        super().__init__()
        self.out_channels, self.in_channels = len(connections), len(connections[0])
        self.kernel_size = kernel_size
        flat = [o * self.in_channels + i for o, row in enumerate(connections) for i, seen in enumerate(row) if seen]
        self.register_buffer("connection_index", torch.tensor(flat), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(self.connection_index), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(self.out_channels))

    def dense_weight(self) -> torch.Tensor:
        k = self.kernel_size
        flat = self.weight.new_zeros(self.out_channels * self.in_channels, k, k)
        return flat.index_copy(0, self.connection_index, self.weight).view(self.out_channels, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)


class RBFOutput(nn.Module):
    """Euclidean RBF units with fixed ±1 prototypes; returns minus the penalties y_i (the logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("prototypes", prototype_bitmaps().flatten(1))

    def penalties(self, x: torch.Tensor) -> torch.Tensor:
        return ((x[:, None, :] - self.prototypes[None]) ** 2).sum(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -self.penalties(x)


def map_loss(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean", j: float = MAP_J) -> torch.Tensor:
    """Equation (9): y_D + log(e^-j + sum_i e^-y_i), with y = -logits.

    Examples
    --------
    >>> y = torch.tensor([[1.0, 50.0]])
    >>> round(float(map_loss(-y, torch.tensor([0]))), 4)  # 1 + log(e^-20 + e^-1 + e^-50)
    0.0
    """
    with_rubbish = torch.cat([logits, logits.new_full((logits.shape[0], 1), -j)], 1)
    per_image = -logits.gather(1, labels[:, None]).squeeze(1) + torch.logsumexp(with_rubbish, 1)
    return per_image.sum() if reduction == "sum" else per_image.mean()


def _squash(activation: str) -> nn.Module:
    if activation == "scaled_tanh":
        return ScaledTanh()
    if activation == "tanh":
        return nn.Tanh()
    raise ValueError(f"unknown activation {activation!r}; choose 'scaled_tanh' (1998) or 'tanh'")


def _subsampling(kind: str, channels: int, activation: str) -> nn.Module:
    if kind == "trainable":
        return nn.Sequential(OrderedDict([("pool", Subsampling(channels)), ("act", _squash(activation))]))
    if kind == "avg":
        return nn.AvgPool2d(2, stride=2)
    raise ValueError(f"unknown subsampling {kind!r}; choose 'trainable' (1998) or 'avg'")


class LeNet5_1998(StagedModel):  # noqa: N801 - the year is part of the name
    """LeNet-5 of LeCun et al. (1998), 60,000 trainable parameters (see the module's docstring).

    Examples
    --------
    >>> model = LeNet5_1998()
    >>> sum(p.numel() for p in model.parameters() if p.requires_grad)
    60000
    >>> {name: tuple(a.shape[1:]) for name, a in model.activations(torch.zeros(1, 1, 28, 28)).items()}
    {'C1': (6, 28, 28), 'S2': (6, 14, 14), 'C3': (16, 10, 10), 'S4': (16, 5, 5), 'C5': (120, 1, 1), 'F6': (84,), 'output': (10,)}
    """

    def __init__(self, n_classes: int = 10, *, input_size: int = 28, in_channels: int = 1,
                 c3_table: bool = True, activation: str = "scaled_tanh", subsampling: str = "trainable",
                 output: str = "rbf", init: str = "fan-in") -> None:
        super().__init__()
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose {' or '.join(map(repr, INITS))}")
        self.init = init
        if (n_classes, input_size, in_channels) != (10, 28, 1):
            raise ValueError("lenet5-1998 is MNIST's network: 10 classes of 28x28 grey images (its RBF prototypes "
                             "are the 10 digits); use lenet5 for other data")
        if output not in ("rbf", "linear"):
            raise ValueError(f"unknown output {output!r}; choose 'rbf' (1998) or 'linear'")
        squash = _squash(activation)
        c3 = SparseConv2d(c3_table_rows()) if c3_table else nn.Conv2d(6, 16, 5)
        self.output_kind = output
        self.feature_extractor = nn.Sequential(OrderedDict([
            ("C1", nn.Sequential(OrderedDict([("field", PaperField()), ("conv", nn.Conv2d(1, 6, 5)),
                                              ("act", _squash(activation))]))),
            ("S2", _subsampling(subsampling, 6, activation)),
            ("C3", nn.Sequential(OrderedDict([("conv", c3), ("act", squash)]))),
            ("S4", _subsampling(subsampling, 16, activation)),
            ("C5", nn.Sequential(OrderedDict([("conv", nn.Conv2d(16, 120, 5)), ("act", _squash(activation))]))),
            ("flatten", nn.Flatten()),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("F6", nn.Sequential(OrderedDict([("linear", nn.Linear(120, 84)), ("act", _squash(activation))]))),
            ("output", RBFOutput() if output == "rbf" else nn.Linear(84, 10)),
        ]))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias uniform in ±2.4 / F_in (appendix A), F_in the fan-in of its unit; with
        ``init="root-fan-in"``, ±2.4 / sqrt(F_in) where every input has its own weight (see the module's docstring)."""
        power = 1.0 if self.init == "fan-in" else 0.5
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                bound = 2.4 / module.weight[0].numel() ** power
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.uniform_(module.bias, -bound, bound)
            elif isinstance(module, SparseConv2d):
                # a C3 map's fan-in: 25 times the number of S2 maps it sees
                maps_seen = torch.tensor([sum(row) for row in c3_table_rows()], dtype=torch.float32)
                bound = 2.4 / (maps_seen * module.kernel_size ** 2) ** power
                owner = module.connection_index // module.in_channels
                with torch.no_grad():
                    module.weight.uniform_(-1, 1).mul_(bound[owner][:, None, None])
                    module.bias.uniform_(-1, 1).mul_(bound)
            elif isinstance(module, Subsampling):
                bound = 2.4 / 4  # one coefficient times the sum of 4 nearly equal inputs: like 4 inputs, not sqrt(4)
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.uniform_(module.bias, -bound, bound)

    def criterion(self, logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The training loss: the MAP criterion for the RBF output, cross-entropy for the linear one."""
        if self.output_kind == "rbf":
            return map_loss(logits, labels, reduction)
        return F.cross_entropy(logits, labels, reduction=reduction)

    # The MAP loss starts near the 84 (the squared distance to a ±1 prototype); training diverged when
    # it is far above that, not at cross-entropy's threshold.
    diverged_loss = 1000.0

