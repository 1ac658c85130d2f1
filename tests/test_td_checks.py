"""The TD's checks pass right answers and recognise the mistakes they are written for, never raising.

In the tables, words starting with "✅" mean the check passes, else it fails; the other words are in its message.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lenetlab
from lenetlab import td
from lenetlab.data import to_input

NNBSP = "\u202f"
NOT_WRITTEN = ["pas encore écrit", "À vous de compléter"]


@pytest.fixture(autouse=True)
def french():
    """Every test starts in French (the default) and leaves French behind."""
    td.set_language("fr")
    yield
    td.set_language("fr")


def expect(result: td.CheckResult, words: list[str]) -> None:
    passed = words[:1] == ["✅"]
    assert bool(result) is passed and result.passed is passed, result.message
    assert result.message.startswith("✅ " if passed else "❌ "), result.message
    text = result.message.replace(NNBSP, " ")
    for word in words[passed:]:
        assert word in text, (word, result.message)


def todo(*_):
    raise NotImplementedError  # À vous de compléter


# --- 1. conv_output_size -------------------------------------------------------------------------------------
def conv(formula):
    """A student's conv_output_size from a formula of (n, k, s, p)."""
    return lambda n, kernel_size, stride=1, padding=0: formula(n, kernel_size, stride, padding)


conv_right = conv(lambda n, k, s, p: (n + 2 * p - k) // s + 1)


@pytest.mark.parametrize("fn, words", [
    (conv_right, ["✅", "5 cas testés"]),
    (conv(lambda n, k, s, p: (n + 2 * p - k) // s), ["« + 1 »", "27 au lieu de 28"]),
    (conv(lambda n, k, s, p: (n - k) // s + 1), ["remplissage p est oublié", "2p"]),
    (conv(lambda n, k, s, p: (n + p - k) // s + 1), ["2p et non p"]),
    (conv(lambda n, k, s, p: (n + 2 * p - k) / s + 1), ["nombre à virgule", "`//`"]),
    (conv(lambda n, k, s, p: n + 2 * p - k + 1), ["le pas s est oublié"]),
    (conv(lambda n, k, s, p: round((n + 2 * p - k) / s) + 1), ["arrondissez vers le bas"]),
    (conv(lambda n, k, s, p: 3), ["relisez la formule"]),
    (todo, NOT_WRITTEN),
    (conv(lambda n, k, s, p: None), ["renvoie None"]),
    (lambda n, k: n - k + 1, ["signature", "conv_output_size(n, kernel_size, stride=1, padding=0)"]),
])
def test_conv_output_size(fn, words):
    expect(td.check_conv_output_size(fn), words)


# --- 2. MLP ----------------------------------------------------------------------------------------------------
def module(init, forward=lambda self, x: self.layers(x)) -> type[nn.Module]:
    """A student's network class from its ``__init__`` and ``forward``."""
    return type("MLP", (nn.Module,), {"__init__": init, "forward": forward})


def with_layers(self, *layers, flatten=True):
    nn.Module.__init__(self)
    self.layers = nn.Sequential(*[nn.Flatten()][:flatten], *layers)


def mlp(*layers, flatten=True):
    return module(lambda self: with_layers(self, *layers, flatten=flatten))


def relu_mlp(h2=84, last=(), act=nn.ReLU, flatten=True):
    return mlp(nn.Linear(784, 120), act(), nn.Linear(120, h2), act(), nn.Linear(h2, 10), *last, flatten=flatten)


SKELETON = module(lambda self: (nn.Module.__init__(self), todo()), todo)


@pytest.mark.parametrize("cls, words", [
    (relu_mlp(), ["✅", "sortie (64, 10)", "105 214 paramètres"]),
    (lenetlab.MLP, ["✅"]),
    (relu_mlp(last=[nn.Softmax(dim=1)]), ["softmax", "logits", "nn.CrossEntropyLoss"]),
    (relu_mlp(last=[nn.ReLU()]), ["jamais négatives", "ReLU"]),
    (relu_mlp(last=[nn.Sigmoid()]), ["entre 0 et 1"]),
    (relu_mlp(flatten=False), ["sans les aplatir", "x.view(x.size(0), -1)", "nn.Flatten()"]),
    (relu_mlp(h2=64), ["102 594 paramètres au lieu de 105 214", "n° 2", "`nn.Linear(120, 64)`", "`nn.Linear(120, 84)`"]),
    (mlp(nn.Linear(784, 120), nn.ReLU(), nn.Linear(100, 84), nn.Linear(84, 10)), ["attend 100 entrées mais en reçoit 120"]),
    (relu_mlp(act=nn.Identity), ["est linéaire", "nn.ReLU()"]),
    (relu_mlp(act=nn.Tanh), ["utilise ReLU", "`nn.Tanh`"]),
    (mlp(nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 10)), ["2 couches linéaires", "au lieu de 3"]),
    (mlp(nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 5)), ["sortie (64, 5)"]),
    (SKELETON, NOT_WRITTEN),
    (module(nn.Module.__init__, lambda self, x: None), ["pas encore écrit"]),
    (module(lambda self: setattr(self, "fc", nn.Linear(784, 10))), ["super().__init__()"]),
    (module(lambda self, hidden: nn.Module.__init__(self)), ["sans argument"]),
    (module(lambda self: with_layers(self, nn.Linear(784, 10)), lambda self, x: None), ["renvoie None", "return"]),
    (None, ["pas encore écrit"]),
    (42, ["sans l'appeler"]),
])
def test_mlp(cls, words):
    expect(td.check_mlp(cls), words)


# --- 3. LeNet-5 ------------------------------------------------------------------------------------------------
def features(pool=nn.AvgPool2d, act=nn.Tanh, padding=2, swap=False, c5=False):
    conv1, act1, pool1 = nn.Conv2d(1, 6, 5, padding=padding), act(), pool(2)
    c1 = [conv1, pool1, act1] if swap else [conv1, act1, pool1]
    return [*c1, nn.Conv2d(6, 16, 5), act(), pool(2), *([nn.Conv2d(16, 120, 5), act(), nn.Flatten()] if c5 else [])]


def classifier(flatten=True, bias=True, last=()):
    return [*[nn.Flatten()][:flatten], nn.Linear(400, 120, bias=bias), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
            nn.Linear(84, 10), *last]


def lenet(fe=None, cl=None, forward_flatten=False):
    def init(self):
        nn.Module.__init__(self)
        self.feature_extractor, self.classifier = nn.Sequential(*(fe or features())), nn.Sequential(*(cl or classifier()))

    flat = (lambda x: x.view(x.size(0), -1)) if forward_flatten else (lambda x: x)
    return type("LeNet5", (nn.Module,), {"__init__": init, "forward": lambda self, x: self.classifier(flat(self.feature_extractor(x)))})


@pytest.mark.parametrize("cls, words", [
    (lenet(), ["✅", "(8, 16, 5, 5)", "61 706 paramètres"]),
    (lenet(cl=classifier(flatten=False), forward_flatten=True), ["✅"]),
    (lenet(fe=features(c5=True), cl=classifier(flatten=False)[2:]), ["✅", "(8, 120)"]),
    (lenetlab.LeNet5, ["✅"]),
    (lenet(fe=features(swap=True)), ["`feature_extractor[1]` est `nn.AvgPool2d(2)`", "attend `nn.Tanh()`"]),
    (lenet(cl=classifier(flatten=False)), ["sans être aplaties", "nn.Flatten()"]),
    (lenet(fe=features(padding=0)), ["padding=2", "32×32", "4×4 au lieu de 5×5"]),
    (lenet(fe=features(pool=nn.MaxPool2d)), ["`feature_extractor[2]` est `nn.MaxPool2d(2)`", "`nn.AvgPool2d(2)`"]),
    (lenet(fe=features(act=nn.ReLU)), ["`feature_extractor[1]` est `nn.ReLU()`", "`nn.Tanh()`"]),
    (lenet(fe=features()[:5]), ["Il manque des couches à `feature_extractor`", "`nn.AvgPool2d(2)`"]),
    (lenet(cl=classifier(last=[nn.Softmax(dim=1)])), ["une couche de trop", "nn.Softmax()"]),
    (lenet(cl=classifier(bias=False)), ["61 586 paramètres au lieu de 61 706", "biais"]),
    (SKELETON, NOT_WRITTEN),
    (mlp(nn.Linear(784, 10)), ["self.feature_extractor", "nn.Sequential"]),
])
def test_lenet5(cls, words):
    expect(td.check_lenet5(cls), words)


# --- 4. train_one_epoch ----------------------------------------------------------------------------------------
def epoch(*, train=True, zero_grad=True, backward=True, step=True, late_zero=False, ascent=False, overwrite=False,
          divide=True, as_tensor=False):
    """The course's train_one_epoch, or one of its classic mistakes."""
    def train_one_epoch(model, loader, criterion, optimizer):
        if train:
            model.train()
        train_loss = 0.0
        for data, target in loader:
            if zero_grad and not late_zero:
                optimizer.zero_grad()
            loss = criterion(model(data), target)
            if backward:
                (-loss if ascent else loss).backward()
            if late_zero:
                optimizer.zero_grad()
            if step:
                optimizer.step()
            batch = (loss if as_tensor else loss.item()) * data.size(0)
            train_loss = batch if overwrite else train_loss + batch
        return train_loss / len(loader.dataset) if divide else train_loss
    return train_one_epoch


GLOBAL_MODEL = nn.Linear(784, 10)  # what a function that forgets its ``model`` argument uses instead


@pytest.mark.parametrize("fn, words", [
    (epoch(), ["✅", "perte moyenne par image"]),
    (epoch(step=False), ["optimizer.step()"]),
    (epoch(zero_grad=False), ["s'accumulent", "optimizer.zero_grad()"]),
    (epoch(late_zero=True), ["entre `loss.backward()` et `optimizer.step()`"]),
    (epoch(backward=False), ["loss.backward()"]),
    (epoch(train=False), ["model.train()"]),
    (epoch(ascent=True), ["ne baisse pas en 3 époques"]),
    (epoch(overwrite=True), ["environ 8 fois trop petite", "`train_loss = ...`", "`train_loss += ...`"]),
    (epoch(divide=False), ["environ 256 fois trop grande", "len(loader.dataset)"]),
    (epoch(as_tensor=True), ["tenseur", "loss.item()"]),
    (todo, NOT_WRITTEN),
    (lambda model, loader, criterion, optimizer: GLOBAL_MODEL(torch.zeros(1, 784)).sum().item(),
     ["n'utilise pas son argument `model`"]),
    (lambda model, loader: 0.0, ["signature", "train_one_epoch(model, loader, criterion, optimizer)"]),
])
def test_train_one_epoch(fn, words):
    expect(td.check_train_one_epoch(fn), words)


# --- 5. evaluate -----------------------------------------------------------------------------------------------
def evaluate(*, no_grad=True, eval_mode=True, overwrite=False, backward=False):
    """The course's evaluate, or one of its classic mistakes."""
    def evaluate(model, loader, criterion):
        if eval_mode:
            model.eval()
        valid_loss = 0.0
        with torch.no_grad() if no_grad else torch.enable_grad():
            for data, target in loader:
                loss = criterion(model(data), target)
                if backward:
                    loss.backward()
                valid_loss = (0.0 if overwrite else valid_loss) + loss.item() * data.size(0)
        return valid_loss / len(loader.sampler)
    return evaluate


@pytest.mark.parametrize("fn, words", [
    (evaluate(), ["✅", "torch.no_grad()"]),
    (evaluate(overwrite=True),
     ["perte de validation est environ 8 fois trop petite", "écrasée (`valid_loss = ...`)", "(`valid_loss += ...`)"]),
    (evaluate(no_grad=False), ["sans `torch.no_grad()`"]),
    (evaluate(eval_mode=False), ["mode entraînement", "model.eval()"]),
    (evaluate(backward=True), ["appelle `loss.backward()`"]),
    (todo, NOT_WRITTEN),
    (lambda model, loader, criterion: None, ["renvoie None"]),
])
def test_evaluate(fn, words):
    expect(td.check_evaluate(fn), words)


# --- 6. train --------------------------------------------------------------------------------------------------
def train(*, start=float("inf"), update=True, save_model=False, eval_fn=None, one_list=False):
    """The course's train, or one of its classic mistakes."""
    def train(model, train_loader, valid_loader, criterion, optimizer, n_epochs, checkpoint_path):
        train_losses, valid_losses = [], []
        valid_loss_min = start() if callable(start) else start
        for _ in range(n_epochs):
            train_losses.append(epoch()(model, train_loader, criterion, optimizer))
            valid_loss = (eval_fn or evaluate())(model, valid_loader, criterion)
            valid_losses.append(valid_loss)
            print(f"validation loss {valid_loss:.4f}")  # not shown: a check prints its verdict only
            if valid_loss < valid_loss_min:
                torch.save(model if save_model else model.state_dict(), checkpoint_path)
                if update:
                    valid_loss_min = valid_loss
        return train_losses if one_list else (train_losses, valid_losses)
    return train


def numpy_inf():
    if int(np.__version__.split(".")[0]) >= 2:
        return np.Inf  # noqa: NPY201 - the course's line, which NumPy 2 refuses
    raise AttributeError("`np.Inf` was removed in the NumPy 2.0 release. Use `np.inf` instead.")


@pytest.mark.parametrize("fn, words", [
    (train(), ["✅", "3 + 3 valeurs"]),
    (train(start=numpy_inf), ["np.Inf", "NumPy 2", 'float("inf")']),
    (train(update=False), ["dernière époque", "valid_loss_min = valid_loss"]),
    (train(start=0.0), ["Aucun fichier", 'float("inf")']),
    (train(save_model=True), ["modèle entier", "state_dict()"]),
    (train(one_list=True), ["deux listes"]),
    (train(eval_fn=evaluate(overwrite=True)), ["À l'époque 1, votre perte de validation est environ 8 fois trop petite"]),
    (todo, NOT_WRITTEN),
])
def test_train(fn, words):
    expect(td.check_train(fn), words)


# --- 7. per_class_accuracy -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    """A nearest-class-mean classifier of MNIST (about 80 % right, every class predicted), 1,000 test images."""
    data = lenetlab.load_mnist()
    x, y = to_input(data.train.images[:2000]).flatten(1), data.train.labels[:2000]
    means = torch.stack([x[y == c].mean(0) for c in range(10)])
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    model[1].weight.data, model[1].bias.data = means, -0.5 * (means**2).sum(1)
    return model, DataLoader(TensorDataset(to_input(data.test.images[:1000]), data.test.labels[:1000]), batch_size=200)


def per_class(*, percent=True, by_prediction=False):
    """The course's per_class_accuracy, or one of its classic mistakes."""
    def per_class_accuracy(model, loader, n_classes=10):
        correct, total = [0] * n_classes, [0] * n_classes
        model.eval()
        with torch.no_grad():
            for data, target in loader:
                predicted = model(data).argmax(1)
                for c in range(n_classes):
                    mine = (predicted if by_prediction else target) == c
                    total[c] += int(mine.sum())
                    correct[c] += int(((predicted == target) & mine).sum())
        return [(100 if percent else 1) * k / n for k, n in zip(correct, total)]
    return per_class_accuracy


@pytest.mark.parametrize("fn, words", [
    (per_class(), ["✅", "sur 1 000 images"]),
    (per_class(percent=False), ["fractions", "multipliez par 100"]),
    (per_class(by_prediction=True), ["*prédites*", "*vraie* classe"]),
    (lambda model, loader, n_classes=10: [50.0] * 9, ["9 valeurs", "une par classe"]),
    (lambda model, loader, n_classes=10: [50.0] * 10, ["Pour la classe 0", "au lieu de"]),
    (todo, NOT_WRITTEN),
    ("class", ["modèle entraîné", "pas la classe"]),
])
def test_per_class_accuracy(trained, fn, words):
    model, loader = trained
    fn, model = (per_class(), nn.Sequential) if fn == "class" else (fn, model)
    expect(td.check_per_class_accuracy(fn, model, loader), words)
    assert not isinstance(model, nn.Module) or model.training  # left in the mode the check found it


# --- 8. parameter counts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer, cls, what, words", [
    (61_706, lenetlab.LeNet5, "", ["✅", "LeNet5 compte bien 61 706 paramètres"]),
    ("105 214", lenetlab.MLP, "le MLP", ["✅", "le MLP compte bien"]),
    (61_000, lenet(), "LeNet-5", ["LeNet-5 compte 61 706 paramètres, pas 61 000",
                                  "`feature_extractor.0` (Conv2d) 6 × (1 × 5 × 5) + 6 = 156",
                                  "`classifier.5` (Linear) 84 × 10 + 10 = 850"]),
    (61_706 - 236, lenet(), "", ["oublié les biais (236 en tout"]),
    (None, lenetlab.MLP, "", ["pas encore écrit votre réponse", "remplacez `None`"]),
    (..., lenetlab.MLP, "", ["remplacez `...`"]),
    ("beaucoup", lenetlab.MLP, "", ["pas un nombre entier"]),
    (10, SKELETON, "", NOT_WRITTEN),
])
def test_parameter_count(answer, cls, what, words):
    expect(td.check_parameter_count(answer, cls, what), words)


# --- the English messages --------------------------------------------------------------------------------------
@pytest.mark.parametrize("check, args, words", [
    (td.check_conv_output_size, (conv(lambda n, k, s, p: (n + 2 * p - k) // s),), ["the “+ 1”", "27 instead of 28"]),
    (td.check_conv_output_size, (todo,), ["is not written yet", "Your turn"]),
    (td.check_mlp, (relu_mlp(),), ["✅", "105,214 parameters"]),
    (td.check_mlp, (relu_mlp(last=[nn.Softmax(dim=1)]),), ["ends with a softmax", "logits"]),
    (td.check_lenet5, (lenet(cl=classifier(flatten=False)),), ["without being flattened", "nn.Flatten()"]),
    (td.check_lenet5, (lenet(fe=features(swap=True)),), ["Layer `feature_extractor[1]` is `nn.AvgPool2d(2)`"]),
    (td.check_train_one_epoch, (epoch(zero_grad=False),), ["accumulate", "optimizer.zero_grad()"]),
    (td.check_train_one_epoch, (epoch(step=False),), ["weights do not change", "optimizer.step()"]),
    (td.check_evaluate, (evaluate(overwrite=True),), ["about 8 times too small", "`valid_loss += ...`"]),
    (td.check_evaluate, (evaluate(no_grad=False),), ["without `torch.no_grad()`"]),
    (td.check_evaluate, (evaluate(eval_mode=False),), ["training mode", "model.eval()"]),
    (td.check_train, (train(start=numpy_inf),), ["no longer exists since NumPy 2"]),
    (td.check_train, (train(update=False),), ["last epoch's, not the best one's"]),
    (td.check_parameter_count, (100_000, lenetlab.MLP), ["MLP has 105,214 parameters, not 100,000"]),
])
def test_english(check, args, words):
    td.set_language("en")
    result = check(*args)
    expect(result, words)
    assert result.message.startswith("✅ Well done: ") is result.passed


# --- what every check promises ---------------------------------------------------------------------------------
def test_log_receives_one_json_line_per_check(tmp_path, monkeypatch):
    log = tmp_path / "td.jsonl"
    monkeypatch.setenv("LENETLAB_TD_LOG", str(log))
    td.check_conv_output_size(conv_right)
    td.check_mlp(SKELETON)
    td.check_parameter_count(850, nn.Linear(84, 10))
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(line["check"], line["passed"]) for line in lines] == [
        ("check_conv_output_size", True), ("check_mlp", False), ("check_parameter_count", True)]
    assert lines[1]["message"].startswith("❌ ") and "À vous de compléter" in lines[1]["message"]
    assert lines[0]["message"].startswith(f"✅ Bravo{NNBSP}: ")  # French typography: a narrow no-break space
    with pytest.raises(ValueError, match="fr"):
        td.set_language("de")


def test_one_printed_line_a_recorded_result_and_no_side_effect(capsys):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    before, threads = len(td.results), torch.get_num_threads()
    result = td.check_train(train())
    assert torch.equal(torch.rand(3), expected) and torch.get_num_threads() == threads  # the notebook's state kept
    out = capsys.readouterr()
    assert out.out == result.message + "\n" and out.err == ""  # the student's prints are not shown
    assert td.results[before:] == [result] and result.name == "check_train"
    with pytest.raises(AttributeError):
        result.passed = False  # frozen


@pytest.mark.parametrize("check, args", [
    (td.check_conv_output_size, (None,)), (td.check_mlp, ("MLP",)), (td.check_lenet5, (lambda: 1 / 0,)),
    (td.check_train_one_epoch, (42,)), (td.check_evaluate, (lambda model, loader, criterion: model.missing,)),
    (td.check_train, (lambda *args: (_ for _ in ()).throw(SystemExit),)),
    (td.check_per_class_accuracy, (None, None, None)), (td.check_parameter_count, (1, None)),
])
def test_checks_never_raise(check, args):
    result = check(*args)
    assert not result and result.message.startswith("❌ ") and "Traceback" not in result.message
