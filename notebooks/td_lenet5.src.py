# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["source"]
# <!--
# Source of the four course notebooks (French / English, énoncé / corrigé), built by
# `python3 scripts/sync_notebooks.py` into src/lenetlab/td/notebooks/. Conventions (docs/notebook.md):
#   - markdown cells tagged `fr` or `en` go to that language only; untagged cells to both;
#   - cells tagged `enonce` or `corrige` go to that version only;
#   - markdown cells tagged `solution` are answers: in the énoncé they become « *Votre réponse :* »;
#   - in code cells, `### BEGIN SOLUTION` ... `### END SOLUTION` is the answer (nbgrader's markers): in the
#     énoncé it becomes `raise NotImplementedError  # À vous de compléter`, or the `### STUB` lines it
#     starts with; whole-line comments `# fr: ...` / `# en: ...` go to that language only;
#   - the line `LANG = "fr"` of the parameters cell is set to the notebook's language.
# This cell (tagged `source`) is not built into the notebooks.
# -->

# %% [markdown] tags=["fr", "enonce"]
# # TD : Implémentation d'un réseau convolutif (LeNet-5) — énoncé
#
# Dans ce TD, vous écrivez vous-même, avec PyTorch, un **perceptron multicouche** (MLP), la **boucle
# d'entraînement**, l'**évaluation par classe** et le réseau convolutif **LeNet-5** (LeCun et al., 1998), puis
# vous regardez ce que les réseaux entraînés ont appris, sur les vraies images de MNIST.
#
# **Comment travailler.** Chaque exercice est une cellule de code marquée `# À vous de compléter` : remplacez
# la ligne `raise NotImplementedError` (ou la valeur `None`) par votre code, exécutez la cellule, puis la
# cellule de **vérification** qui la suit : elle affiche ✅ quand votre réponse est juste, ❌ et un indice
# sinon. Les questions en **gras** appellent une réponse écrite (la fiche imprimable de l'enseignant,
# `lenetlab td --teacher`, les reprend toutes). Tel quel, sans rien compléter, le notebook s'exécute jusqu'au bout : les
# longs entraînements utilisent les réseaux de la bibliothèque `lenetlab`.

# %% [markdown] tags=["en", "enonce"]
# # Lab: implementing a convolutional network (LeNet-5) — exercises
#
# In this lab you write, with PyTorch, a **multi-layer perceptron** (MLP), the **training loop**, the
# **per-class evaluation** and the convolutional network **LeNet-5** (LeCun et al., 1998), then you look at
# what the trained networks have learned, on the real MNIST images.
#
# **How to work.** Each exercise is a code cell marked `# Your turn`: replace the line
# `raise NotImplementedError` (or the value `None`) with your code, run the cell, then the **check** cell
# after it: it shows ✅ when your answer is right, ❌ and a hint otherwise. Questions in **bold** call for a
# written answer (the teacher's printable worksheet, `lenetlab td --teacher`, gathers them all). As it is, with
# nothing completed, the notebook runs to the end: the long trainings use the networks of the `lenetlab`
# library.

# %% [markdown] tags=["fr", "corrige"]
# # TD : Implémentation d'un réseau convolutif (LeNet-5) — corrigé
#
# Le corrigé du TD : chaque exercice avec sa solution (chaque cellule de vérification affiche ✅) et chaque
# question avec sa réponse. Les réponses qui dépendent des nombres de l'exécution (les « Lecture ») sont
# calculées à partir de ces nombres : elles restent justes quel que soit le réglage de `SEANCE`.

# %% [markdown] tags=["en", "corrige"]
# # Lab: implementing a convolutional network (LeNet-5) — solutions
#
# The lab with its solutions: each exercise solved (every check cell shows ✅) and each question answered.
# The answers that depend on the numbers of the run (the "Reading" paragraphs) are computed from those
# numbers: they stay right whatever `SEANCE` is set to.

# %% [markdown] tags=["fr"]
# Le TD d'origine avait huit défauts ; chacun est réparé ici (une note **« Correction N »** dit ce qui n'allait
# pas pour les cinq premiers, les exercices corrigent les trois autres) :
#
# | # | dans le TD original | ce qui se passe | ici |
# |---|---|---|---|
# | 1 | grille d'exemples `fig.add_subplot(2, batch_display/2, …)` | `batch_display/2` est un flottant : `ValueError: Number of columns must be a positive integer, not 10.0` | lignes et colonnes entières |
# | 2 | `images, labels = dataiter.next()` | plus de méthode `.next()` (PyTorch ≥ 1.13) : `AttributeError` | `next(iter(loader))` |
# | 3 | `transforms.ToTensor()` image par image (PIL) | chaque époque reconvertit 48 000 images une à une : lent | tout le jeu en mémoire, en tenseurs |
# | 4 | `valid_loss = loss.item()` dans la boucle de validation | la perte est **écrasée** à chaque lot | perte **sommée** sur tous les lots |
# | 5 | `plt.plot(train_losses / np.sum(train_losses))` | chaque courbe divisée par sa propre somme : plus comparables | courbes telles quelles |
# | 6 | `valid_loss_min = np.Inf` | `np.Inf` n'existe plus depuis NumPy 2.0 : `AttributeError`, la première erreur qu'on rencontre aujourd'hui | `float("inf")` (exercice 4) |
# | 7 | la validation sans `torch.no_grad()` | PyTorch garde le graphe de calcul de chaque lot : plus lent, plus de mémoire, pour rien | `with torch.no_grad():` (exercice 3) |
# | 8 | le `else:` de la cellule de test, aligné sur le `for` et non sur le `if` | un `for … else` : exécuté une seule fois, après la boucle, il affiche « N/A » pour la dernière classe | `per_class_accuracy` (exercice 5) |
#
# **Durée.** Le paramètre `SEANCE` règle la taille des entraînements : `"2h"` (par défaut) tient dans une
# séance de deux heures sur un portable à 2 cœurs, `"complet"` entraîne bien plus longtemps (de meilleurs
# résultats, pour travailler hors séance), `"test"` tourne en quelques secondes (pour l'intégration continue).
# Aucune connexion n'est nécessaire : MNIST est fourni avec `lenetlab`.

# %% [markdown] tags=["en"]
# The original course had eight defects; each is fixed here (a **"Fix N"** note says what was wrong for the
# first five, the exercises fix the other three):
#
# | # | in the original course | what happens | here |
# |---|---|---|---|
# | 1 | sample grid `fig.add_subplot(2, batch_display/2, …)` | `batch_display/2` is a float: `ValueError: Number of columns must be a positive integer, not 10.0` | whole rows and columns |
# | 2 | `images, labels = dataiter.next()` | no `.next()` method any more (PyTorch ≥ 1.13): `AttributeError` | `next(iter(loader))` |
# | 3 | `transforms.ToTensor()` image by image (PIL) | every epoch converts 48,000 images again, one by one: slow | the whole set in memory, as tensors |
# | 4 | `valid_loss = loss.item()` in the validation loop | the loss is **overwritten** at each batch | loss **summed** over every batch |
# | 5 | `plt.plot(train_losses / np.sum(train_losses))` | each curve divided by its own sum: no longer comparable | curves as they are |
# | 6 | `valid_loss_min = np.Inf` | `np.Inf` is gone since NumPy 2.0: `AttributeError`, the first error one meets today | `float("inf")` (exercise 4) |
# | 7 | validation without `torch.no_grad()` | PyTorch keeps every batch's computation graph: slower, more memory, for nothing | `with torch.no_grad():` (exercise 3) |
# | 8 | the test cell's `else:`, aligned with the `for`, not the `if` | a `for … else`: run once, after the loop, it prints "N/A" for the last class | `per_class_accuracy` (exercise 5) |
#
# **Duration.** The `SEANCE` parameter sets the size of the trainings: `"2h"` (the default) fits a two-hour
# class on a 2-core laptop, `"complet"` trains much longer (better results, for work outside
# class), `"test"` runs in seconds (for continuous integration). No network is needed: MNIST ships with `lenetlab`.

# %% tags=["parameters"]
# fr: Langue des textes imprimés et des figures : "fr" ou "en".
# en: Language of the printed text and the figures: "fr" or "en".
LANG = "fr"
# fr: "2h" : une séance de deux heures ; "complet" : entraînements longs ; "test" : quelques secondes.
# en: "2h": a two-hour class; "complet": long trainings; "test": a few seconds.
SEANCE = "2h"
SEED = 0
# fr: Où le notebook enregistre ses nombres (pour les tests) et ses poids.
# en: Where the notebook saves its numbers (for the tests) and its weights.
RESULTS_PATH = "td_resultats.json"
CHECKPOINT_DIR = "td_poids"

# %%
import dataclasses
import io
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lenetlab
from lenetlab import TrainConfig, count_parameters, fit, load_mnist, plots, td
from lenetlab.data import ImageSet
from lenetlab.i18n import number, percent

warnings.filterwarnings("ignore", message="IProgress not found")

td.set_language(LANG)


def T(fr, en):
    """The text in the notebook's language."""
    return fr if LANG == "fr" else en


def num(x, digits=0):
    return number(x, LANG, digits)


def pct(fraction, digits=2):
    return percent(fraction, LANG, digits)


# fr: Taille des entraînements selon la séance (images, époques).
# en: Size of the trainings for each setting (images, epochs).
SETTINGS = {
    "test": {"hand_images": 1000, "hand_epochs": 1, "train_images": 3000, "eval_images": 2000,
             "epochs_mlp": 1, "epochs_lenet": 1, "explore_images": 500, "explore_epochs": 1,
             "embed_points": 300, "tsne_points": 0},
    "2h": {"hand_images": 6000, "hand_epochs": 2, "train_images": 48000, "eval_images": None,
           "epochs_mlp": 5, "epochs_lenet": 5, "explore_images": 12000, "explore_epochs": 3,
           "embed_points": 1500, "tsne_points": 500},
    "complet": {"hand_images": 48000, "hand_epochs": 5, "train_images": 48000, "eval_images": None,
                "epochs_mlp": 15, "epochs_lenet": 12, "explore_images": 24000, "explore_epochs": 5,
                "embed_points": 3000, "tsne_points": 1500},
}
S = SETTINGS[SEANCE]
torch.manual_seed(SEED)
checkpoints = Path(CHECKPOINT_DIR)
checkpoints.mkdir(parents=True, exist_ok=True)
results = {"seance": SEANCE, "lang": LANG, "lectures": {}}

try:  # in Jupyter the figures are shown in the notebook
    from IPython import get_ipython
    from IPython.display import Image, display

    IN_JUPYTER = get_ipython() is not None
except ImportError:
    IN_JUPYTER = False
saved_figures = []


def show(fig, dpi=80):
    """Show a matplotlib figure (lenetlab's plotting functions return Figures, without pyplot)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    if IN_JUPYTER:
        display(Image(data=buffer.getvalue()))
        return
    folder = saved_figures[0].parent if saved_figures else Path(tempfile.mkdtemp(prefix="td_lenet5_"))
    path = folder / f"figure_{len(saved_figures) + 1:02d}.png"
    path.write_bytes(buffer.getvalue())
    saved_figures.append(path)
    print(T("[figure enregistrée : ", "[figure saved: ") + f"{path}]")


def lecture(key, verdict, text, **numbers):
    """Print a « Lecture » chosen from the numbers, and keep the numbers and the choice for the tests."""
    results["lectures"][key] = {"verdict": verdict, **numbers}
    print(T("Lecture. ", "Reading. ") + text)


def curves_figure(train_losses, valid_losses, title):
    """The two losses per epoch as they are (fix 5); says so when there is nothing to draw yet."""
    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.subplots()
    if not train_losses and not valid_losses:
        ax.text(0.5, 0.5, T("rien à tracer : la fonction train n'est pas encore écrite",
                            "nothing to plot: the train function is not written yet"), ha="center", va="center")
        ax.axis("off")
        return fig
    ax.plot(range(1, len(train_losses) + 1), train_losses, "o-", label=T("entraînement", "training"))
    ax.plot(range(1, len(valid_losses) + 1), valid_losses, "o-", label="validation")
    ax.set(xlabel=T("époque", "epoch"), ylabel=T("entropie croisée", "cross-entropy"), title=title)
    ax.legend()
    ax.grid(alpha=0.3)
    return plots.localize(fig, LANG)  # 0,5 on the axes in French


print(f"lenetlab {lenetlab.__version__}, PyTorch {torch.__version__}, SEANCE = {SEANCE!r}")

# %% [markdown] tags=["fr"]
# ## 1. Données
#
# MNIST : 60 000 images d'entraînement et 10 000 images de test, des chiffres manuscrits en niveaux de gris
# de 28×28 pixels. On met de côté 20 % des images d'entraînement (tirées au hasard avec une graine fixe)
# pour la **validation** : 48 000 pour apprendre, 12 000 pour choisir le nombre d'époques, et le test n'est
# regardé qu'à la fin.
#
# ### Correction 3 — la lenteur du chargement
#
# Le TD passait par `torchvision.datasets.MNIST(..., transform=transforms.ToTensor())` : à **chaque** époque,
# chaque image était reconvertie une à une (image PIL → tableau → tenseur → division par 255), ce qui coûte
# plus cher que l'apprentissage d'un réseau aussi petit. Ici, `load_mnist()` lit les fichiers fournis avec
# `lenetlab` et garde tout le jeu en mémoire ; on convertit une seule fois tout le jeu en flottants dans
# [0, 1] (`as_float()`, l'équivalent de `ToTensor()`).

# %% [markdown] tags=["en"]
# ## 1. Data
#
# MNIST: 60,000 training images and 10,000 test images, handwritten digits in grey levels, 28×28 pixels.
# 20 % of the training images (drawn at random with a fixed seed) are kept aside for **validation**:
# 48,000 to learn from, 12,000 to choose the number of epochs, and the test set is looked at only at the end.
#
# ### Fix 3 — slow loading
#
# The course used `torchvision.datasets.MNIST(..., transform=transforms.ToTensor())`: at **every** epoch,
# each image was converted again, one by one (PIL image → array → tensor → division by 255), which costs more
# than training a network this small. Here `load_mnist()` reads the files that ship with `lenetlab` and keeps
# the whole set in memory; the whole set is converted once to floats in [0, 1] (`as_float()`, the
# equivalent of `ToTensor()`).

# %%
data = load_mnist(seed=SEED)
print(T(f"entraînement {num(len(data.train))}, validation {num(len(data.valid))}, test {num(len(data.test))} images",
        f"training {num(len(data.train))}, validation {num(len(data.valid))}, test {num(len(data.test))} images"))
x_train, y_train = data.train.as_float(), data.train.labels
x_valid, y_valid = data.valid.as_float(), data.valid.labels
x_test, y_test = data.test.as_float(), data.test.labels
print(T("un lot d'images :", "images:"), tuple(x_train.shape), x_train.dtype,
      T("; étiquettes :", "; labels:"), tuple(y_train.shape), y_train.dtype)

# %% [markdown] tags=["fr"]
# ### Correction 1 — la grille d'exemples
#
# Le TD construisait la grille avec `fig.add_subplot(2, batch_display/2, …)` : en Python 3, `batch_display/2`
# est un **flottant** (`10.0` pour 20 images) et matplotlib refuse un nombre de colonnes non entier
# (`ValueError: Number of columns must be a positive integer, not 10.0`). Il faut un entier :
# `math.ceil(n / lignes)` (ou `n // lignes` quand la division tombe juste). `plots.samples_figure` le fait.

# %% [markdown] tags=["en"]
# ### Fix 1 — the sample grid
#
# The course built the grid with `fig.add_subplot(2, batch_display/2, …)`: in Python 3, `batch_display/2` is
# a **float** (`10.0` for 20 images) and matplotlib refuses a number of columns that is not a whole number
# (`ValueError: Number of columns must be a positive integer, not 10.0`). It must be an integer:
# `math.ceil(n / rows)` (or `n // rows` when the division is exact). `plots.samples_figure` does that.

# %%
show(plots.samples_figure(data.train.images[:16].numpy(), data.train.labels[:16].numpy(), data.class_names,
                          lang=LANG))

# %% [markdown] tags=["fr"]
# ### Correction 2 — `dataiter.next()`
#
# Un `DataLoader` découpe le jeu en **lots** (*batches*) et les mélange à chaque époque. Le TD prenait un lot
# avec `dataiter = iter(train_loader)` puis `dataiter.next()` : cette méthode n'existe plus depuis
# PyTorch 1.13 (`AttributeError`). En Python 3, on écrit **`next(iter(loader))`**.
#
# Les exercices qui suivent travaillent sur les `DataLoader` ci-dessous, sur une partie des images
# (`S["hand_images"]`) pour que vos boucles restent rapides.

# %% [markdown] tags=["en"]
# ### Fix 2 — `dataiter.next()`
#
# A `DataLoader` cuts the set into **batches** and shuffles them at each epoch. The course took one batch
# with `dataiter = iter(train_loader)` then `dataiter.next()`: that method is gone since PyTorch 1.13
# (`AttributeError`). In Python 3, write **`next(iter(loader))`**.
#
# The exercises below work on these `DataLoader`s, on part of the images (`S["hand_images"]`) so that your
# loops stay fast.

# %%
n_hand = S["hand_images"]
train_loader = DataLoader(TensorDataset(x_train[:n_hand], y_train[:n_hand]), batch_size=64, shuffle=True,
                          generator=torch.Generator().manual_seed(SEED))
valid_loader = DataLoader(TensorDataset(x_valid[:n_hand // 2], y_valid[:n_hand // 2]), batch_size=500)
test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=500)
images, labels = next(iter(train_loader))  # not dataiter.next()
print(T("un lot :", "one batch:"), tuple(images.shape), T("étiquettes :", "labels:"), labels[:12].tolist())

# %% [markdown] tags=["fr"]
# ## 2. Réseau multicouche
#
# En PyTorch, un réseau est une classe qui hérite de `nn.Module` : le constructeur `__init__` crée les
# couches (ce sont elles qui portent les paramètres), la méthode `forward(x)` dit comment une entrée les
# traverse. `nn.Sequential(a, b, c)` enchaîne des couches ; `nn.Linear(n_in, n_out)` est une couche
# entièrement connectée (`n_in × n_out` poids et `n_out` biais) ; `nn.ReLU()` applique max(0, x) ;
# `nn.Flatten()` aplatit chaque image (1 × 28 × 28) en un vecteur de 784 nombres.
#
# *PyTorch ou TensorFlow ?* Les deux font la même chose (tenseurs, gradients automatiques, couches toutes
# faites). Keras (TensorFlow) cache la boucle d'entraînement derrière `model.fit()` ; en PyTorch on l'écrit
# soi-même, ce qui est plus long mais montre chaque étape — c'est l'objet de la partie 3. Les formats
# diffèrent aussi : PyTorch range les images en (N, canaux, hauteur, largeur), TensorFlow par défaut en
# (N, hauteur, largeur, canaux).

# %% [markdown] tags=["en"]
# ## 2. Multi-layer network
#
# In PyTorch a network is a class that inherits from `nn.Module`: the constructor `__init__` creates the
# layers (they hold the parameters), the method `forward(x)` says how an input goes through them.
# `nn.Sequential(a, b, c)` chains layers; `nn.Linear(n_in, n_out)` is a fully connected layer
# (`n_in × n_out` weights and `n_out` biases); `nn.ReLU()` applies max(0, x); `nn.Flatten()` flattens each
# image (1 × 28 × 28) into a vector of 784 numbers.
#
# *PyTorch or TensorFlow?* Both do the same things (tensors, automatic gradients, ready-made layers). Keras
# (TensorFlow) hides the training loop behind `model.fit()`; in PyTorch you write it yourself, which is longer
# but shows every step — that is part 3. The layouts differ too: PyTorch stores images as (N, channels,
# height, width), TensorFlow by default as (N, height, width, channels).

# %% [markdown] tags=["fr", "question"]
# **Question 1 (à prévoir avant d'écrire le code).** Le MLP du TD a 784 entrées, deux couches cachées de 120
# puis 84 neurones et 10 sorties. **Combien de paramètres (poids et biais) a-t-il ?** Détaillez le calcul
# couche par couche.

# %% [markdown] tags=["en", "question"]
# **Question 1 (predict before you write the code).** The lab's MLP has 784 inputs, two hidden layers of 120
# then 84 neurons, and 10 outputs. **How many parameters (weights and biases) does it have?** Show the
# computation layer by layer.

# %% [markdown] tags=["fr", "solution"]
# **Réponse.** Une couche linéaire a `n_in × n_out` poids et `n_out` biais :
#
# | couche | calcul | paramètres |
# |---|---|---:|
# | H1 | 784 × 120 + 120 | 94 200 |
# | H2 | 120 × 84 + 84 | 10 164 |
# | sortie | 84 × 10 + 10 | 850 |
# | **total** | | **105 214** |
#
# 90 % des paramètres sont dans la première couche : chaque neurone de H1 a son propre poids pour chacun
# des 784 pixels.

# %% [markdown] tags=["en", "solution"]
# **Answer.** A linear layer has `n_in × n_out` weights and `n_out` biases:
#
# | layer | computation | parameters |
# |---|---|---:|
# | H1 | 784 × 120 + 120 | 94,200 |
# | H2 | 120 × 84 + 84 | 10,164 |
# | output | 84 × 10 + 10 | 850 |
# | **total** | | **105,214** |
#
# 90 % of the parameters are in the first layer: each neuron of H1 has its own weight for each of the 784
# pixels.

# %%
# fr: Votre réponse à la question 1, un nombre entier.
# en: Your answer to question 1, a whole number.
### BEGIN SOLUTION
### STUB mlp_parameters = None
mlp_parameters = (784 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
### END SOLUTION

# %%
ok_mlp_parameters = td.check_parameter_count(mlp_parameters, lenetlab.MLP)

# %% [markdown] tags=["fr"]
# **Exercice 1 : le perceptron multicouche.** Écrivez la classe `MLP` : l'image est aplatie en un vecteur de
# 784 pixels, puis deux couches cachées de 120 et 84 neurones suivies de ReLU, et une couche de sortie de 10
# scores, un par chiffre (pas de softmax : la perte d'entropie croisée de PyTorch l'inclut).

# %% [markdown] tags=["en"]
# **Exercise 1: the multi-layer perceptron.** Write the class `MLP`: the image is flattened into a vector of
# 784 pixels, then two hidden layers of 120 and 84 neurons each followed by ReLU, and an output layer of 10
# scores, one per digit (no softmax: PyTorch's cross-entropy loss includes it).

# %%
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        # self.layers = nn.Sequential(nn.Flatten(), nn.Linear(...), nn.ReLU(), ...)
        ### BEGIN SOLUTION
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),
        )
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.layers(x)
        ### END SOLUTION


# %%
ok_mlp = td.check_mlp(MLP)

# %% [markdown] tags=["fr"]
# ## 3. Entraînement
#
# Apprendre, c'est ajuster les paramètres pour faire baisser une **perte** : ici l'**entropie croisée**
# (`nn.CrossEntropyLoss`), qui vaut −log de la probabilité que le réseau donne à la bonne classe. Pour chaque
# lot : calculer les scores (`model(images)`), la perte, remettre les gradients à zéro
# (`optimizer.zero_grad()`), rétropropager (`loss.backward()` calcule le gradient de la perte par rapport à
# chaque paramètre), puis faire un pas de descente de gradient (`optimizer.step()`). Une **époque** est un
# passage sur toutes les images d'entraînement.
#
# `criterion(...)` renvoie la perte **moyenne** du lot : pour la moyenne par image sur toute l'époque,
# multipliez-la par la taille du lot (`images.size(0)`), sommez, et divisez à la fin par le nombre d'images.
#
# **Exercice 2 : une époque d'entraînement.** `train_one_epoch` met le modèle en mode entraînement
# (`model.train()`), fait un pas par lot et renvoie la perte moyenne par image.

# %% [markdown] tags=["en"]
# ## 3. Training
#
# Learning means adjusting the parameters so that a **loss** goes down: here the **cross-entropy**
# (`nn.CrossEntropyLoss`), −log of the probability the network gives to the right class. For each batch:
# compute the scores (`model(images)`), the loss, reset the gradients (`optimizer.zero_grad()`),
# back-propagate (`loss.backward()` computes the gradient of the loss with respect to every parameter),
# then take one gradient-descent step (`optimizer.step()`). An **epoch** is one pass over all the training
# images.
#
# `criterion(...)` returns the **mean** loss of the batch: for the mean per image over the whole epoch,
# multiply it by the batch size (`images.size(0)`), sum, and divide at the end by the number of images.
#
# **Exercise 2: one training epoch.** `train_one_epoch` puts the model in training mode (`model.train()`),
# takes one step per batch and returns the mean loss per image.

# %%
def train_one_epoch(model, loader, criterion, optimizer):
    # fr: model.train() ; pour chaque lot : zero_grad, perte, backward, step ; renvoyer la perte moyenne par image.
    # en: model.train(); for each batch: zero_grad, loss, backward, step; return the mean loss per image.
    ### BEGIN SOLUTION
    model.train()
    total, n_images = 0.0, 0
    for images, labels in loader:
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * images.size(0)
        n_images += images.size(0)
    return total / n_images
    ### END SOLUTION


# %%
ok_epoch = td.check_train_one_epoch(train_one_epoch)

# %% [markdown] tags=["fr"]
# ### Correction 4 — la perte de validation écrasée
#
# Le TD écrivait, dans la boucle de validation :
#
# ```python
# for data, target in valid_loader:
#     output = model(data)
#     loss = criterion(output, target)
#     valid_loss = loss.item() * data.size(0)   # "=" : écrase la valeur du lot précédent
# valid_loss = valid_loss / len(valid_loader.sampler)
# ```
#
# Le `=` remplace la perte à chaque lot : il ne reste que celle du **dernier** lot, divisée par la taille de
# tout le jeu — un nombre beaucoup trop petit. Il faut **sommer** (`+=`) sur tous les lots, puis diviser par
# le nombre d'images.
#
# **Exercice 3 : la perte de validation.** `evaluate` met le modèle en mode évaluation (`model.eval()`),
# calcule sans gradient (`with torch.no_grad():`, plus rapide et sans mémoire gaspillée) et renvoie la perte
# moyenne par image, **sommée sur tous les lots**.

# %% [markdown] tags=["en"]
# ### Fix 4 — the overwritten validation loss
#
# The course wrote, in the validation loop:
#
# ```python
# for data, target in valid_loader:
#     output = model(data)
#     loss = criterion(output, target)
#     valid_loss = loss.item() * data.size(0)   # "=": overwrites the previous batch's value
# valid_loss = valid_loss / len(valid_loader.sampler)
# ```
#
# The `=` replaces the loss at each batch: only the **last** batch's is left, divided by the size of the
# whole set — a number far too small. It must be **summed** (`+=`) over every batch, then divided by the
# number of images.
#
# **Exercise 3: the validation loss.** `evaluate` puts the model in evaluation mode (`model.eval()`),
# computes without gradients (`with torch.no_grad():`, faster and without wasted memory) and returns the
# mean loss per image, **summed over every batch**.

# %%
def evaluate(model, loader, criterion):
    # fr: model.eval() et torch.no_grad() ; SOMMER perte × taille du lot (+=), diviser par le nombre d'images.
    # en: model.eval() and torch.no_grad(); SUM loss × batch size (+=), divide by the number of images.
    ### BEGIN SOLUTION
    model.eval()
    total, n_images = 0.0, 0
    with torch.no_grad():
        for images, labels in loader:
            total += criterion(model(images), labels).item() * images.size(0)  # += : summed
            n_images += images.size(0)
    return total / n_images
    ### END SOLUTION


# %%
ok_evaluate = td.check_evaluate(evaluate)

# %% [markdown] tags=["fr"]
# **Exercice 4 : la boucle complète.** `train` entraîne `n_epochs` époques ; après chacune, elle calcule la
# perte de validation, garde les deux pertes dans deux listes (l'**historique**) et, quand la perte de
# validation est la plus basse vue jusque-là, enregistre les poids (`torch.save(model.state_dict(),
# checkpoint_path)`) : on garde ainsi le **meilleur** modèle, pas forcément le dernier. Elle renvoie
# `(train_losses, valid_losses)`.
#
# Initialisez le minimum avec `valid_loss_min = float("inf")` : le `np.Inf` du TD d'origine n'existe plus
# depuis NumPy 2.

# %% [markdown] tags=["en"]
# **Exercise 4: the whole loop.** `train` trains for `n_epochs` epochs; after each one it computes the
# validation loss, keeps both losses in two lists (the **history**) and, when the validation loss is the
# lowest seen so far, saves the weights (`torch.save(model.state_dict(), checkpoint_path)`): that keeps the
# **best** model, not necessarily the last one. It returns `(train_losses, valid_losses)`.
#
# Start the minimum at `valid_loss_min = float("inf")`: the original course's `np.Inf` is gone since
# NumPy 2.

# %%
def train(model, train_loader, valid_loader, criterion, optimizer, n_epochs, checkpoint_path):
    train_losses, valid_losses = [], []
    # fr: valid_loss_min = float("inf") ; à chaque époque : train_one_epoch, evaluate, les deux listes, et
    # fr: torch.save(model.state_dict(), checkpoint_path) quand la perte de validation est la plus basse.
    # en: valid_loss_min = float("inf"); at each epoch: train_one_epoch, evaluate, both lists, and
    # en: torch.save(model.state_dict(), checkpoint_path) when the validation loss is the lowest so far.
    ### BEGIN SOLUTION
    valid_loss_min = float("inf")
    for epoch in range(1, n_epochs + 1):
        train_loss = train_one_epoch(model, train_loader, criterion, optimizer)
        valid_loss = evaluate(model, valid_loader, criterion)
        train_losses.append(train_loss)
        valid_losses.append(valid_loss)
        print(T(f"époque {epoch} : perte d'entraînement {train_loss:.4f}, de validation {valid_loss:.4f}",
                f"epoch {epoch}: training loss {train_loss:.4f}, validation loss {valid_loss:.4f}"))
        if valid_loss < valid_loss_min:
            torch.save(model.state_dict(), checkpoint_path)
            valid_loss_min = valid_loss
    ### END SOLUTION
    return train_losses, valid_losses


# %%
ok_train = td.check_train(train)

# %% [markdown] tags=["fr", "question"]
# **Question 2 (à prévoir avant de lancer).** Votre MLP part de poids tirés au hasard. **Quelle perte
# attendez-vous avant tout entraînement, et quelle exactitude de validation après une seule époque ?**

# %% [markdown] tags=["en", "question"]
# **Question 2 (predict before you run).** Your MLP starts from random weights. **What loss do you expect
# before any training, and what validation accuracy after a single epoch?**

# %% [markdown] tags=["fr", "solution"]
# **Réponse.** Au départ, le réseau donne à peu près la même probabilité, 1/10, à chaque classe : la perte
# vaut environ −ln(1/10) = ln 10 ≈ 2,30, et l'exactitude est celle du hasard, environ 10 %. MNIST est un jeu
# facile : une seule époque sur 48 000 images suffit à un MLP pour dépasser 90 % (environ 95 % avec la
# recette de `lenetlab`) ; sur les quelques milliers d'images de l'exercice, comptez plutôt 80 à 90 %.

# %% [markdown] tags=["en", "solution"]
# **Answer.** At first the network gives roughly the same probability, 1/10, to each class: the loss is about
# −ln(1/10) = ln 10 ≈ 2.30, and the accuracy is chance, about 10 %. MNIST is an easy set: one epoch over
# 48,000 images is enough for an MLP to pass 90 % (about 95 % with `lenetlab`'s recipe); on the few thousand
# images of the exercise, expect 80 to 90 %.

# %% [markdown] tags=["fr"]
# ### Votre MLP, entraîné par votre boucle
#
# Quand les exercices 1 à 4 passent, la cellule suivante entraîne votre `MLP` avec votre `train` (SGD avec
# moment) sur les images de l'exercice. Sinon, elle dit ce qui manque et la suite du TD utilise le MLP de
# `lenetlab` (le même réseau).
#
# ### Correction 5 — les courbes divisées par leur somme
#
# Le TD traçait `plt.plot(train_losses / np.sum(train_losses))` : diviser chaque courbe par sa **propre**
# somme change son échelle, les valeurs ne sont plus des pertes, et les deux courbes ne se comparent plus
# (c'est pourtant la comparaison entraînement / validation qui montre le surapprentissage). On les trace
# **telles quelles**.

# %% [markdown] tags=["en"]
# ### Your MLP, trained by your loop
#
# When exercises 1 to 4 pass, the next cell trains your `MLP` with your `train` (SGD with momentum) on the
# exercise's images. Otherwise it says what is missing, and the rest of the lab uses `lenetlab`'s MLP (the
# same network).
#
# ### Fix 5 — curves divided by their sum
#
# The course plotted `plt.plot(train_losses / np.sum(train_losses))`: dividing each curve by its **own** sum
# changes its scale, the values are no longer losses, and the two curves no longer compare (yet comparing
# training and validation is what shows overfitting). They are plotted **as they are**.

# %%
criterion = nn.CrossEntropyLoss()
hand_losses = ([], [])
if ok_mlp and ok_epoch and ok_evaluate and ok_train:
    torch.manual_seed(SEED)
    my_mlp = MLP()
    optimizer = torch.optim.SGD(my_mlp.parameters(), lr=0.05, momentum=0.9)
    hand_losses = train(my_mlp, train_loader, valid_loader, criterion, optimizer, S["hand_epochs"],
                        checkpoints / "my_mlp.pt")
else:
    print(T("Les exercices 1 à 4 ne passent pas encore : rien à entraîner ici (la suite utilise lenetlab.MLP).",
            "Exercises 1 to 4 do not pass yet: nothing to train here (the rest uses lenetlab.MLP)."))
show(curves_figure(*hand_losses, T("Votre MLP, votre boucle", "Your MLP, your loop")))

# %% [markdown] tags=["fr"]
# ### Le même MLP, plus longtemps, avec `lenetlab`
#
# Pour les entraînements longs, on utilise `lenetlab.MLP` (la même architecture, 105 214 paramètres) et
# `lenetlab.fit`, qui fait la même boucle, plus vite (lots pris par indexation dans les tenseurs en
# mémoire) et avec la recette du projet : SGD avec moment de Nesterov, taux d'apprentissage « one-cycle »,
# lissage des étiquettes (*label smoothing*) 0,1 et petits décalages aléatoires des images. Le notebook reste ainsi utilisable même
# si un exercice n'est pas terminé.

# %% [markdown] tags=["en"]
# ### The same MLP, longer, with `lenetlab`
#
# For the long trainings we use `lenetlab.MLP` (the same architecture, 105,214 parameters) and
# `lenetlab.fit`, which runs the same loop, faster (batches taken by indexing the in-memory tensors) and with
# the project's recipe: SGD with Nesterov momentum, a "one-cycle" learning rate, label smoothing 0.1 and
# small random shifts of the images. So the notebook stays usable even when an exercise is not finished.

# %%
def first_images(n):
    """The data with only the first n training images (all of them when n is larger)."""
    return dataclasses.replace(data, train=ImageSet(data.train.images[:n], data.train.labels[:n]))


train_data = first_images(S["train_images"])
# fr: En séance "test", les comparaisons de l'exploration sont évaluées sur une partie des images.
# en: In the "test" setting, the exploration's comparisons are evaluated on part of the images.
eval_valid, eval_test = data.valid, data.test
if S["eval_images"] is not None:
    eval_valid = ImageSet(data.valid.images[:S["eval_images"]], data.valid.labels[:S["eval_images"]])
    eval_test = ImageSet(data.test.images[:S["eval_images"]], data.test.labels[:S["eval_images"]])


def long_run(model, name, epochs):
    """Train a lenetlab model with the project's recipe; (state, seconds)."""
    config = TrainConfig.from_preset("default", model=name, epochs=epochs, seed=SEED)
    torch.manual_seed(SEED)
    t0 = time.perf_counter()
    state = fit(model, train_data, config, progress=False, log=None)
    return state, time.perf_counter() - t0


torch.manual_seed(SEED)
mlp = lenetlab.MLP()
state_mlp, seconds_mlp = long_run(mlp, "mlp", S["epochs_mlp"])
history_mlp = [record.__dict__ for record in state_mlp.history]
print(T(f"MLP : {S['epochs_mlp']} époque(s) sur {num(len(train_data.train))} images en {num(seconds_mlp, 1)} s",
        f"MLP: {S['epochs_mlp']} epoch(s) on {num(len(train_data.train))} images in {num(seconds_mlp, 1)} s"))
for record in history_mlp:
    print(T(f"  époque {record['epoch']} : entraînement {num(record['train_loss'], 4)}, "
            f"validation {num(record['valid_loss'], 4)}, exactitude {pct(record['valid_accuracy'])}",
            f"  epoch {record['epoch']}: training {num(record['train_loss'], 4)}, "
            f"validation {num(record['valid_loss'], 4)}, accuracy {pct(record['valid_accuracy'])}"))
show(plots.loss_curves_figure(history_mlp, lang=LANG))

# %%
last = history_mlp[-1]
best = min(history_mlp, key=lambda r: r["valid_loss"])
rising = best["epoch"] < last["epoch"]
if last["train_loss"] > last["valid_loss"]:
    text = T(f"la perte d'entraînement ({num(last['train_loss'], 3)}) est au-dessus de celle de validation "
             f"({num(last['valid_loss'], 3)}). Ce n'est pas une erreur : elle est mesurée sur des images décalées "
             "et avec le lissage des étiquettes (la cible de la bonne classe vaut 0,91, pas 1), qui l'empêche de "
             "descendre sous 0,5 environ ; la validation est l'entropie croisée ordinaire sur des images intactes.",
             f"the training loss ({num(last['train_loss'], 3)}) is above the validation loss "
             f"({num(last['valid_loss'], 3)}). That is no mistake: it is measured on shifted images and with "
             "label smoothing (the right class's target is 0.91, not 1), which keeps it above about 0.5; the "
             "validation loss is the plain cross-entropy on untouched images.")
    verdict = "train_above"
else:
    text = T(f"la perte d'entraînement ({num(last['train_loss'], 3)}) est sous celle de validation "
             f"({num(last['valid_loss'], 3)}) : le réseau fait mieux sur les images qu'il a vues.",
             f"the training loss ({num(last['train_loss'], 3)}) is below the validation loss "
             f"({num(last['valid_loss'], 3)}): the network does better on the images it has seen.")
    verdict = "train_below"
if len(history_mlp) < 3:
    text += T(f" Avec {len(history_mlp)} époque(s), c'est trop court pour juger du surapprentissage : passez "
              "SEANCE à \"complet\" (15 époques) pour voir si la perte de validation remonte.",
              f" With {len(history_mlp)} epoch(s) this is too short to judge overfitting: set SEANCE to "
              "\"complet\" (15 epochs) to see whether the validation loss goes back up.")
elif rising:
    text += T(f" La perte de validation est au plus bas à l'époque {best['epoch']} puis remonte : début de "
              "surapprentissage, d'où l'intérêt de garder le meilleur modèle.",
              f" The validation loss is lowest at epoch {best['epoch']} then rises: overfitting begins, hence "
              "keeping the best model.")
else:
    text += T(" La perte de validation baisse encore à la dernière époque : pas de surapprentissage visible.",
              " The validation loss still falls at the last epoch: no visible overfitting.")
lecture("loss_gap", verdict, text, train_loss=last["train_loss"], valid_loss=last["valid_loss"],
        epochs=len(history_mlp))

# %% [markdown] tags=["fr"]
# ## 4. Évaluation
#
# On évalue une seule fois, à la fin, sur les 10 000 images de **test**. L'exactitude globale cache des
# différences : certains chiffres sont plus difficiles que d'autres.
#
# **Exercice 5 : l'exactitude par classe.** `per_class_accuracy(model, loader, n_classes=10)` renvoie, pour
# chaque chiffre, le pourcentage de ses images que le modèle reconnaît (la classe prédite est l'indice du
# plus grand score : `model(images).argmax(1)`).

# %% [markdown] tags=["en"]
# ## 4. Evaluation
#
# We evaluate once, at the end, on the 10,000 **test** images. The overall accuracy hides differences: some
# digits are harder than others.
#
# **Exercise 5: per-class accuracy.** `per_class_accuracy(model, loader, n_classes=10)` returns, for each
# digit, the percentage of its images that the model recognises (the predicted class is the index of the
# largest score: `model(images).argmax(1)`).

# %%
def per_class_accuracy(model, loader, n_classes=10):
    # fr: compter, pour chaque classe c, ses images (labels == c) et celles bien prédites ; renvoyer des pourcentages.
    # en: count, for each class c, its images (labels == c) and those predicted right; return percentages.
    ### BEGIN SOLUTION
    correct, total = [0] * n_classes, [0] * n_classes
    model.eval()
    with torch.no_grad():
        for images, labels in loader:
            predicted = model(images).argmax(1)
            for c in range(n_classes):
                mine = labels == c
                total[c] += int(mine.sum())
                correct[c] += int((predicted[mine] == c).sum())
    return [100 * k / n if n else 0.0 for k, n in zip(correct, total)]
    ### END SOLUTION


# %%
ok_per_class = td.check_per_class_accuracy(per_class_accuracy, mlp, test_loader)

# %%
result_mlp = lenetlab.evaluate(mlp, data.test)
print(T(f"Exactitude sur le test (MLP) : {pct(result_mlp.accuracy)}",
        f"Test accuracy (MLP): {pct(result_mlp.accuracy)}"))


def per_class_table(result):
    matrix = np.asarray(result.confusion_matrix)
    for k, name in enumerate(data.class_names):
        right, total = int(matrix[k, k]), int(matrix[k].sum())
        print(T(f"Exactitude du chiffre {name} : {pct(right / total, 1):>7} ({right:4d}/{total:4d})",
                f"Test accuracy of digit {name}: {pct(right / total, 1):>7} ({right:4d}/{total:4d})"))


def per_class_reading(key, result, network):
    acc = list(result.per_class_accuracy)
    worst, best = int(np.argmin(acc)), int(np.argmax(acc))
    lecture(key, data.class_names[worst],
            T(f"pour le {network}, le chiffre le plus difficile est le {data.class_names[worst]} "
              f"({pct(acc[worst], 1)}), le plus facile le {data.class_names[best]} ({pct(acc[best], 1)}).",
              f"for the {network}, the hardest digit is {data.class_names[worst]} ({pct(acc[worst], 1)}), "
              f"the easiest {data.class_names[best]} ({pct(acc[best], 1)})."),
            per_class=acc, best=data.class_names[best])


per_class_table(result_mlp)
per_class_reading("per_class_mlp", result_mlp, "MLP")
show(plots.per_class_accuracy_figure(result_mlp.per_class_accuracy, data.class_names, lang=LANG))
show(plots.confusion_matrix_figure(result_mlp.confusion_matrix, data.class_names, lang=LANG))

# %% [markdown] tags=["fr", "question"]
# **Question 3.** Regardez la matrice de confusion. **Quels chiffres le MLP confond-il le plus souvent, et
# pourquoi, à votre avis ?**

# %% [markdown] tags=["en", "question"]
# **Question 3.** Look at the confusion matrix. **Which digits does the MLP confuse most often, and why, in
# your opinion?**

# %% [markdown] tags=["fr", "solution"]
# **Réponse.** La liste ci-dessous, calculée sur la matrice de confusion, répond pour votre exécution : on y
# trouve des paires de formes voisines (4 et 9, 7 et 2, 3 et 5, 8 et 3…). Un perceptron compare des pixels à
# des positions fixes : un chiffre décalé de deux pixels est pour lui une autre image. C'est ce que corrige le
# réseau convolutif.

# %% [markdown] tags=["en", "solution"]
# **Answer.** The list below, computed from the confusion matrix, answers for your run: it holds pairs of
# similar shapes (4 and 9, 7 and 2, 3 and 5, 8 and 3…). A perceptron compares pixels at fixed positions: a
# digit shifted by two pixels is another image to it. That is what the convolutional network fixes.

# %%
def top_confusions(result, k=5):
    """The k most frequent (true, predicted) pairs off the diagonal."""
    matrix = np.array(result.confusion_matrix)
    np.fill_diagonal(matrix, 0)
    pairs = np.dstack(np.unravel_index(np.argsort(matrix, axis=None, kind="stable")[::-1][:k], matrix.shape))[0]
    return [(data.class_names[i], data.class_names[j], int(matrix[i, j])) for i, j in pairs]


for true, predicted, count in top_confusions(result_mlp):
    print(T(f"{true} pris pour {predicted} : {count} fois", f"{true} taken for {predicted}: {count} times"))
wrong = np.flatnonzero(result_mlp.predictions.numpy() != y_test.numpy())[:15]
show(plots.predictions_figure(data.test.images[wrong].numpy(), result_mlp.predictions[wrong].numpy(),
                              y_test[wrong].numpy(), data.class_names, n=len(wrong), lang=LANG))

# %% [markdown] tags=["fr"]
# ## 5. Réseau convolutif LeNet-5
#
# ### Les briques
#
# **La convolution** `nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0)` fait glisser
# un petit **noyau** (*kernel*) sur l'image et calcule, à chaque position, la somme pondérée des pixels
# qu'il couvre :
#
# - `in_channels` : le nombre de cartes en entrée (1 pour une image en niveaux de gris, 3 en couleur) ;
# - `out_channels` : le nombre de noyaux, donc de **cartes de caractéristiques** (*feature maps*) en sortie ;
# - `kernel_size` : la taille du noyau (5 pour 5×5) ;
# - `stride`, le **pas** : de combien de pixels le noyau avance à chaque fois (2 : une position sur deux,
#   une sortie deux fois plus petite) ;
# - `padding`, le **remplissage** : des zéros ajoutés autour de l'image pour que le noyau puisse aussi se
#   centrer sur les bords.
#
# Un noyau a `in_channels × k × k` poids et un biais, **partagés** par toutes les positions : le même
# détecteur (un bord, un coin) est cherché partout dans l'image.
#
# **Le sous-échantillonnage** (*pooling*) `nn.AvgPool2d(2)` remplace chaque carré de 2×2 valeurs par leur
# moyenne (`nn.MaxPool2d` par leur maximum) : la carte est deux fois plus petite dans chaque direction, et la
# réponse devient peu sensible à un décalage d'un pixel. Pas de paramètre.
#
# **L'aplatissement** `nn.Flatten()` met les cartes bout à bout en un vecteur, pour les couches `nn.Linear`
# qui suivent : 16 cartes de 5×5 donnent 400 nombres.
#
# **La taille de sortie.** Sur une entrée de côté `n`, avec un noyau `k`, un pas `s` et un remplissage `p` :
#
# $$ \text{sortie} = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1 $$
#
# Exemple : C1 sur une image 28×28, noyau 5, pas 1, remplissage 2 : ⌊(28 + 4 − 5)/1⌋ + 1 = 28. Sans
# remplissage : ⌊(28 − 5)/1⌋ + 1 = 24. Un *pooling* 2×2 de pas 2 sur 28 : ⌊(28 − 2)/2⌋ + 1 = 14.
#
# **Pourquoi un remplissage de 2 ?** L'article de 1998 donne à LeNet-5 des images de **32×32** : les chiffres
# de MNIST (28×28) y sont centrés avec une marge de 2 pixels, pour que les traits proches du bord soient vus
# en entier par les noyaux 5×5. Ajouter 2 pixels de zéros de chaque côté d'une image 28×28 revient au même :
# 28 + 2 × 2 = 32, et C1 sort alors des cartes 28×28, comme dans l'article.

# %% [markdown] tags=["en"]
# ## 5. Convolutional network LeNet-5
#
# ### The building blocks
#
# **Convolution** `nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0)` slides a small
# **kernel** over the image and computes, at each position, the weighted sum of the pixels it covers:
#
# - `in_channels`: the number of input maps (1 for a grey-level image, 3 for colour);
# - `out_channels`: the number of kernels, hence of **feature maps** in the output;
# - `kernel_size`: the size of the kernel (5 for 5×5);
# - `stride`: how many pixels the kernel moves each time (2: every other position, an output half the size);
# - `padding`: zeros added around the image so that the kernel can also be centred on the borders.
#
# A kernel has `in_channels × k × k` weights and one bias, **shared** by all positions: the same detector (an
# edge, a corner) is looked for everywhere in the image.
#
# **Pooling** `nn.AvgPool2d(2)` replaces each 2×2 square of values with their mean (`nn.MaxPool2d` with
# their maximum): the map is half the size in each direction, and the response becomes insensitive to a
# one-pixel shift. No parameters.
#
# **Flattening** `nn.Flatten()` puts the maps end to end into one vector, for the `nn.Linear` layers that
# follow: 16 maps of 5×5 give 400 numbers.
#
# **The output size.** On an input of side `n`, with kernel `k`, stride `s` and padding `p`:
#
# $$ \text{output} = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1 $$
#
# Example: C1 on a 28×28 image, kernel 5, stride 1, padding 2: ⌊(28 + 4 − 5)/1⌋ + 1 = 28. Without padding:
# ⌊(28 − 5)/1⌋ + 1 = 24. A 2×2 pooling with stride 2 on 28: ⌊(28 − 2)/2⌋ + 1 = 14.
#
# **Why a padding of 2?** The 1998 paper feeds LeNet-5 **32×32** images: the MNIST digits (28×28) are
# centred in them with a 2-pixel margin, so that strokes near the border are seen whole by the 5×5 kernels.
# Adding 2 pixels of zeros on each side of a 28×28 image amounts to the same: 28 + 2 × 2 = 32, and C1 then
# outputs 28×28 maps, as in the paper.

# %% [markdown] tags=["fr"]
# **Exercice 6 : la formule.** Écrivez `conv_output_size(n, kernel_size, stride=1, padding=0)`, le côté de
# la sortie d'une convolution ou d'un *pooling* (un entier : `//` est la division entière).

# %% [markdown] tags=["en"]
# **Exercise 6: the formula.** Write `conv_output_size(n, kernel_size, stride=1, padding=0)`, the side of the
# output of a convolution or a pooling (an integer: `//` is integer division).

# %%
def conv_output_size(n, kernel_size, stride=1, padding=0):
    # fr: la formule ⌊(n + 2p − k)/s⌋ + 1
    # en: the formula ⌊(n + 2p − k)/s⌋ + 1
    ### BEGIN SOLUTION
    return (n + 2 * padding - kernel_size) // stride + 1
    ### END SOLUTION


# %%
ok_size = td.check_conv_output_size(conv_output_size)

# %% [markdown] tags=["fr"]
# ### L'architecture
#
# LeNet-5 tel que le TD le décrit : un `feature_extractor` (les convolutions et les *poolings*) et un
# `classifier` (l'aplatissement et les couches entièrement connectées).
#
# | couche | opération | sortie |
# |---|---|---|
# | C1 | convolution 1 → 6, noyau 5×5, pas 1, remplissage 2, tanh | 6 × 28 × 28 |
# | S2 | sous-échantillonnage : moyenne 2×2, pas 2 | 6 × 14 × 14 |
# | C3 | convolution 6 → 16, 5×5, tanh | 16 × 10 × 10 |
# | S4 | moyenne 2×2, pas 2 | 16 × 5 × 5 |
# | C5 | aplatissement, linéaire 400 → 120, tanh | 120 |
# | F6 | linéaire 120 → 84, tanh | 84 |
# | sortie | linéaire 84 → 10 | 10 |
#
# (Le TD écrit « padding de 2 » pour S2 : un *pooling* 2×2 ne peut pas prendre un remplissage de 2 —
# PyTorch le refuse —, il s'agit du **pas** de 2, comme dans l'article. C5, une convolution 5×5 sur des
# cartes 5×5 dans l'article, est exactement une couche linéaire sur les 400 valeurs aplaties.)
#
# **ReLU ou tanh ?** Le MLP utilise ReLU, LeNet-5 tanh, comme en 1998. tanh écrase ses entrées dans ]−1, 1[ :
# loin de 0, sa pente est presque nulle, et comme la rétropropagation **multiplie** les pentes de couche en
# couche, le gradient des premières couches peut devenir minuscule (**disparition du gradient**) : le réseau
# apprend lentement. ReLU a une pente de 1 pour toute entrée positive, ce qui laisse passer le gradient ; c'est
# le choix par défaut des réseaux actuels. Avec cinq couches et de bons réglages, tanh reste ici très bien.

# %% [markdown] tags=["en"]
# ### The architecture
#
# LeNet-5 as the lab describes it: a `feature_extractor` (the convolutions and poolings) and a `classifier`
# (flattening and the fully connected layers).
#
# | layer | operation | output |
# |---|---|---|
# | C1 | convolution 1 → 6, kernel 5×5, stride 1, padding 2, tanh | 6 × 28 × 28 |
# | S2 | subsampling: 2×2 mean, stride 2 | 6 × 14 × 14 |
# | C3 | convolution 6 → 16, 5×5, tanh | 16 × 10 × 10 |
# | S4 | 2×2 mean, stride 2 | 16 × 5 × 5 |
# | C5 | flatten, linear 400 → 120, tanh | 120 |
# | F6 | linear 120 → 84, tanh | 84 |
# | output | linear 84 → 10 | 10 |
#
# (The course says "padding of 2" for S2: a 2×2 pooling cannot take a padding of 2 — PyTorch refuses it —,
# it means the **stride** of 2, as in the paper. C5, a 5×5 convolution on 5×5 maps in the paper, is exactly a
# linear layer on the 400 flattened values.)
#
# **ReLU or tanh?** The MLP uses ReLU, LeNet-5 tanh, as in 1998. tanh squashes its inputs into ]−1, 1[: far
# from 0 its slope is almost zero, and since back-propagation **multiplies** the slopes layer after layer,
# the gradient of the first layers can become tiny (the **vanishing gradient**): the network learns slowly.
# ReLU has a slope of 1 for any positive input, which lets the gradient through; it is the default choice of
# today's networks. With five layers and good settings, tanh does very well here.

# %% [markdown] tags=["fr", "question"]
# **Question 4.** Avec la formule, **quelle est la taille des cartes après C1, S2, C3 et S4 ? Combien de
# cartes de caractéristiques chaque couche produit-elle ?** Que deviendrait la sortie de C1 sans remplissage ?

# %% [markdown] tags=["en", "question"]
# **Question 4.** With the formula, **what is the size of the maps after C1, S2, C3 and S4? How many feature
# maps does each layer produce?** What would C1's output be without padding?

# %% [markdown] tags=["fr", "solution"]
# **Réponse.** C1 : 6 cartes de ⌊(28 + 4 − 5)/1⌋ + 1 = 28×28 ; S2 : 6 cartes de 14×14 ; C3 : 16 cartes de
# ⌊(14 − 5)/1⌋ + 1 = 10×10 ; S4 : 16 cartes de 5×5, soit 16 × 5 × 5 = 400 valeurs pour le `classifier`.
# Chaque convolution produit autant de cartes que de noyaux (`out_channels`) ; un *pooling* garde le nombre
# de cartes. Sans remplissage, C1 sortirait des cartes 24×24, puis 12, 8 et 4 : le `classifier` recevrait
# 16 × 4 × 4 = 256 valeurs.

# %% [markdown] tags=["en", "solution"]
# **Answer.** C1: 6 maps of ⌊(28 + 4 − 5)/1⌋ + 1 = 28×28; S2: 6 maps of 14×14; C3: 16 maps of
# ⌊(14 − 5)/1⌋ + 1 = 10×10; S4: 16 maps of 5×5, that is 16 × 5 × 5 = 400 values for the `classifier`. Each
# convolution produces as many maps as it has kernels (`out_channels`); a pooling keeps the number of maps.
# Without padding, C1 would output 24×24 maps, then 12, 8 and 4: the `classifier` would get 16 × 4 × 4 = 256
# values.

# %% [markdown] tags=["fr"]
# **Exercice 7 : la classe `LeNet5`.** Écrivez-la avec `self.feature_extractor` (C1, tanh, S2, C3, tanh, S4,
# avec `nn.Conv2d`, `nn.Tanh` et `nn.AvgPool2d`) et `self.classifier` (`nn.Flatten`, puis les `nn.Linear`
# 400 → 120 → 84 → 10 séparées par des `nn.Tanh`).

# %% [markdown] tags=["en"]
# **Exercise 7: the class `LeNet5`.** Write it with `self.feature_extractor` (C1, tanh, S2, C3, tanh, S4, with
# `nn.Conv2d`, `nn.Tanh` and `nn.AvgPool2d`) and `self.classifier` (`nn.Flatten`, then the `nn.Linear`
# 400 → 120 → 84 → 10 separated by `nn.Tanh`).

# %%
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        # fr: self.feature_extractor = nn.Sequential(...)  : C1, tanh, S2, C3, tanh, S4
        # fr: self.classifier = nn.Sequential(...)         : nn.Flatten(), C5, tanh, F6, tanh, sortie
        # en: self.feature_extractor = nn.Sequential(...)  : C1, tanh, S2, C3, tanh, S4
        # en: self.classifier = nn.Sequential(...)         : nn.Flatten(), C5, tanh, F6, tanh, output
        ### BEGIN SOLUTION
        self.feature_extractor = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Tanh(), nn.AvgPool2d(2),   # C1, S2
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2),             # C3, S4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.Tanh(),                                   # C5
            nn.Linear(120, 84), nn.Tanh(),                                           # F6
            nn.Linear(84, 10),
        )
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.classifier(self.feature_extractor(x))
        ### END SOLUTION


# %%
ok_lenet = td.check_lenet5(LeNet5)

# %% [markdown] tags=["fr", "question"]
# **Question 5 (à prévoir).** **Combien de paramètres a LeNet-5 ?** Une convolution de `c_in` cartes vers
# `c_out` cartes avec des noyaux `k × k` a `c_out × c_in × k × k` poids et `c_out` biais. Plus ou moins que le
# MLP ? **Quelle exactitude attendez-vous après le même nombre d'époques que le MLP, meilleure ou moins
# bonne ?**

# %% [markdown] tags=["en", "question"]
# **Question 5 (predict).** **How many parameters does LeNet-5 have?** A convolution from `c_in` maps to
# `c_out` maps with `k × k` kernels has `c_out × c_in × k × k` weights and `c_out` biases. More or fewer than
# the MLP? **What accuracy do you expect after the same number of epochs as the MLP, better or worse?**

# %% [markdown] tags=["fr", "solution"]
# **Réponse.**
#
# | couche | calcul | paramètres |
# |---|---|---:|
# | C1 | 6 × (1 × 5 × 5) + 6 | 156 |
# | S2, S4 | — | 0 |
# | C3 | 16 × (6 × 5 × 5) + 16 | 2 416 |
# | C5 | 400 × 120 + 120 | 48 120 |
# | F6 | 120 × 84 + 84 | 10 164 |
# | sortie | 84 × 10 + 10 | 850 |
# | **total** | | **61 706** |
#
# 40 % de moins que le MLP (105 214), et pourtant LeNet-5 fait en général deux à trois fois moins d'erreurs
# à nombre d'époques égal, grâce à la localité et au partage des poids (voir la « Lecture » plus bas, qui
# compare les deux réseaux de votre exécution). Dans l'article de 1998, le total est de 60 000 (C3 n'y relie
# chaque carte qu'à une partie des cartes de S2, S2 et S4 ont un coefficient par carte, la sortie est faite
# d'unités RBF fixes).

# %% [markdown] tags=["en", "solution"]
# **Answer.**
#
# | layer | computation | parameters |
# |---|---|---:|
# | C1 | 6 × (1 × 5 × 5) + 6 | 156 |
# | S2, S4 | — | 0 |
# | C3 | 16 × (6 × 5 × 5) + 16 | 2,416 |
# | C5 | 400 × 120 + 120 | 48,120 |
# | F6 | 120 × 84 + 84 | 10,164 |
# | output | 84 × 10 + 10 | 850 |
# | **total** | | **61,706** |
#
# 40 % fewer than the MLP (105,214), and yet LeNet-5 usually makes two to three times fewer errors for the
# same number of epochs, thanks to locality and weight sharing (see the "Reading" below, which compares the
# two networks of your run). In the 1998 paper the total is 60,000 (C3 connects each map to only part of
# S2's maps, S2 and S4 have one coefficient per map, the output is made of fixed RBF units).

# %%
# fr: Votre réponse à la question 5, un nombre entier.
# en: Your answer to question 5, a whole number.
### BEGIN SOLUTION
### STUB lenet_parameters = None
lenet_parameters = (6 * 1 * 5 * 5 + 6) + (16 * 6 * 5 * 5 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
### END SOLUTION

# %%
ok_lenet_parameters = td.check_parameter_count(lenet_parameters, lenetlab.LeNet5)

# %% [markdown] tags=["fr"]
# ### Votre LeNet-5, entraîné par votre boucle
#
# Quand vos `LeNet5` et `train` passent leurs vérifications, la cellule suivante les réunit, sur les images
# de l'exercice.

# %% [markdown] tags=["en"]
# ### Your LeNet-5, trained by your loop
#
# When your `LeNet5` and `train` pass their checks, the next cell puts them together, on the exercise's
# images.

# %%
hand_losses = ([], [])
if ok_lenet and ok_epoch and ok_evaluate and ok_train:
    torch.manual_seed(SEED)
    my_lenet = LeNet5()
    optimizer = torch.optim.SGD(my_lenet.parameters(), lr=0.05, momentum=0.9)
    hand_losses = train(my_lenet, train_loader, valid_loader, criterion, optimizer, S["hand_epochs"],
                        checkpoints / "my_lenet5.pt")
    my_lenet.load_state_dict(torch.load(checkpoints / "my_lenet5.pt"))  # the best epoch
    print(T("exactitude de validation (meilleure époque) :", "validation accuracy (best epoch):"),
          pct(lenetlab.evaluate(my_lenet, eval_valid).accuracy))
else:
    print(T("LeNet5 ou train ne passent pas encore : rien à entraîner ici (la suite utilise lenetlab.LeNet5).",
            "LeNet5 or train do not pass yet: nothing to train here (the rest uses lenetlab.LeNet5)."))
show(curves_figure(*hand_losses, T("Votre LeNet-5, votre boucle", "Your LeNet-5, your loop")))

# %% [markdown] tags=["fr"]
# ### LeNet-5, plus longtemps, avec `lenetlab`
#
# `lenetlab.LeNet5` est la même architecture (61 706 paramètres ; ses couches portent les noms de l'article,
# C1 à F6, ce qui sert à l'exploration). On l'entraîne **une seule fois** ici, avec la même recette que le
# MLP, et ce modèle sert à toute l'exploration.

# %% [markdown] tags=["en"]
# ### LeNet-5, longer, with `lenetlab`
#
# `lenetlab.LeNet5` is the same architecture (61,706 parameters; its layers carry the paper's names, C1 to
# F6, which the exploration uses). It is trained **once** here, with the same recipe as the MLP, and this
# model serves the whole exploration.

# %%
torch.manual_seed(SEED)
lenet = lenetlab.LeNet5()
state_lenet, seconds_lenet = long_run(lenet, "lenet5", S["epochs_lenet"])
history_lenet = [record.__dict__ for record in state_lenet.history]
print(T(f"LeNet-5 : {S['epochs_lenet']} époque(s) en {num(seconds_lenet, 1)} s",
        f"LeNet-5: {S['epochs_lenet']} epoch(s) in {num(seconds_lenet, 1)} s"))
show(plots.loss_curves_figure(history_lenet, lang=LANG))
result_lenet = lenetlab.evaluate(lenet, data.test)
per_class_table(result_lenet)
per_class_reading("per_class_lenet", result_lenet, "LeNet-5")
show(plots.confusion_matrix_figure(result_lenet.confusion_matrix, data.class_names, lang=LANG))

# %%
networks = {"MLP": (mlp, result_mlp, S["epochs_mlp"], seconds_mlp),
            "LeNet-5": (lenet, result_lenet, S["epochs_lenet"], seconds_lenet)}
comparison = {}
print(f"{T('réseau', 'network'):<9} {T('paramètres', 'parameters'):>11} {'validation':>11} {'test':>9} "
      f"{T('erreurs', 'errors'):>8} {T('époques', 'epochs'):>8} {T('secondes', 'seconds'):>9}")
for name, (model, result, epochs, seconds) in networks.items():
    comparison[name] = {"parameters": count_parameters(model), "validation": lenetlab.evaluate(model, eval_valid).accuracy,
                        "test": result.accuracy, "errors": int(round((1 - result.accuracy) * len(data.test)))}
    row = comparison[name]
    print(f"{name:<9} {num(row['parameters']):>11} {pct(row['validation']):>11} {pct(row['test']):>9} "
          f"{row['errors']:>8} {epochs:>8} {num(seconds, 1):>9}")
results["comparison"] = comparison

# %%
e_mlp, e_lenet = comparison["MLP"]["errors"], comparison["LeNet-5"]["errors"]
if e_lenet < e_mlp:
    lecture("mlp_vs_lenet", "lenet_better",
            T(f"avec 40 % de paramètres en moins, LeNet-5 fait {e_lenet} erreurs sur le test contre {e_mlp} pour le "
              f"MLP ({num(e_mlp / max(e_lenet, 1), 1)} fois moins). Ce n'est pas la taille qui compte mais ce que "
              "l'architecture sait d'avance des images : la localité (un neurone de C1 ne regarde que 5×5 "
              "pixels), le partage des poids (le même noyau partout) et le sous-échantillonnage (peu sensible aux "
              "petits décalages).",
              f"with 40 % fewer parameters, LeNet-5 makes {e_lenet} test errors against {e_mlp} for the MLP "
              f"({num(e_mlp / max(e_lenet, 1), 1)} times fewer). Size is not what counts but what the architecture "
              "knows of images in advance: locality (a C1 neuron looks at 5×5 pixels only), weight sharing (the "
              "same kernel everywhere) and subsampling (little sensitive to small shifts)."),
            errors_mlp=e_mlp, errors_lenet=e_lenet)
else:
    lecture("mlp_vs_lenet", "not_yet",
            T(f"ici LeNet-5 fait {e_lenet} erreurs et le MLP {e_mlp} : LeNet-5 ne fait pas mieux, parce que "
              f"l'entraînement est trop court ({S['epochs_lenet']} époque(s) sur {num(len(train_data.train))} "
              "images) pour conclure. Relancez avec SEANCE = \"complet\" : LeNet-5 y fait deux à trois fois moins "
              "d'erreurs que le MLP.",
              f"here LeNet-5 makes {e_lenet} errors and the MLP {e_mlp}: LeNet-5 does not do better, because the "
              f"training is too short ({S['epochs_lenet']} epoch(s) on {num(len(train_data.train))} images) to "
              "conclude. Run again with SEANCE = \"complet\": LeNet-5 then makes two to three times fewer errors "
              "than the MLP."),
            errors_mlp=e_mlp, errors_lenet=e_lenet)

# %% [markdown] tags=["fr"]
# ## 6. Exploration
#
# Que contiennent les réseaux entraînés ? Les fonctions de `lenetlab.explore` répondent sur les modèles en
# mémoire.
#
# ### 6.1 Paramètres et calcul, couche par couche
#
# MACs : multiplications-additions par image (une par utilisation d'un poids).

# %% [markdown] tags=["en"]
# ## 6. Exploration
#
# What do the trained networks contain? The functions of `lenetlab.explore` answer on the models in memory.
#
# ### 6.1 Parameters and computation, layer by layer
#
# MACs: multiply-accumulates per image (one per use of a weight).

# %%
from lenetlab.explore.figures import params_figure
from lenetlab.explore.params import format_table, params_report

report = params_report({"LeNet-5": lenet, "MLP": mlp})
for name, table in report.items():
    print(format_table(name, table, lang=LANG), end="\n\n")
macs = {name: table["total_macs"] for name, table in report.items()}
show(params_figure(report, lang=LANG))

# %% [markdown] tags=["fr", "question"]
# **Question 6.** **Pourquoi LeNet-5, qui a moins de paramètres que le MLP, fait-il plus de calcul par
# image ?**

# %% [markdown] tags=["en", "question"]
# **Question 6.** **Why does LeNet-5, which has fewer parameters than the MLP, do more computation per
# image?**

# %% [markdown] tags=["fr", "solution"]
# **Réponse.** À cause du partage des poids : chaque poids de C1 est utilisé une fois par position, 28 × 28 =
# 784 fois par image, chaque poids de C3 100 fois (10 × 10 positions). Un poids du MLP ne sert qu'une fois. Le
# partage échange des paramètres contre du calcul (le tableau ci-dessus donne les MACs de chaque couche).

# %% [markdown] tags=["en", "solution"]
# **Answer.** Because of weight sharing: each weight of C1 is used once per position, 28 × 28 = 784 times per
# image, each weight of C3 100 times (10 × 10 positions). A weight of the MLP is used once. Sharing trades
# parameters for computation (the table above gives each layer's MACs).

# %% [markdown] tags=["fr"]
# ### 6.2 Les filtres appris et les filtres classiques
#
# Les 6 noyaux 5×5 de C1, comparés à une banque de filtres classiques du traitement d'images (Sobel,
# Prewitt, laplacien de gaussienne, Gabor…) par le cosinus entre les deux noyaux vus comme des vecteurs de 25
# nombres, en valeur absolue (1 : identiques à l'échelle et au signe près). Le point de comparaison honnête :
# des noyaux **au hasard** trouvent aussi un filtre assez proche dans la banque.

# %% [markdown] tags=["en"]
# ### 6.2 Learned filters and classic filters
#
# The 6 kernels 5×5 of C1, compared with a bank of classic image-processing filters (Sobel, Prewitt,
# Laplacian of Gaussian, Gabor…) by the cosine between the two kernels seen as vectors of 25 numbers, in
# absolute value (1: identical up to scale and sign). The honest baseline: **random** kernels also find a
# fairly close filter in the bank.

# %%
from lenetlab.explore.figures import filter_name, filters_figure
from lenetlab.explore.filters import best_matches, classic_filters, conv_weights

bank = classic_filters(5)
kernels_c1 = conv_weights(lenet, "C1")[:, 0]
matches = best_matches(kernels_c1, bank)
for i, m in enumerate(matches):
    print(T(f"noyau {i} : le plus proche est {filter_name(m['best'], LANG):<18} cosinus {num(m['similarity'], 2)}",
            f"kernel {i}: the closest is {filter_name(m['best'], LANG):<18} cosine {num(m['similarity'], 2)}"))
learned = float(np.mean([m["similarity"] for m in matches]))
torch.manual_seed(SEED)
random_means = [np.mean([m["similarity"] for m in best_matches(conv_weights(lenetlab.LeNet5(), "C1")[:, 0], bank)])
                for _ in range(30)]
chance, spread = float(np.mean(random_means)), float(np.std(random_means))
print(T(f"cosinus moyen : noyaux appris {num(learned, 2)}, noyaux au hasard {num(chance, 2)} ± {num(spread, 2)}",
        f"mean cosine: learned kernels {num(learned, 2)}, random kernels {num(chance, 2)} ± {num(spread, 2)}"))
show(filters_figure(kernels_c1, matches, bank, "C1", lang=LANG))

# %%
if learned > chance + 2 * spread:
    lecture("filters", "closer_than_random",
            T(f"les noyaux appris ({num(learned, 2)}) ressemblent nettement plus aux filtres classiques que des "
              f"noyaux au hasard ({num(chance, 2)} ± {num(spread, 2)}) : l'entraînement a fait de C1 des "
              "détecteurs de bords et de traits, comme ceux qu'on dessine à la main.",
              f"the learned kernels ({num(learned, 2)}) look clearly more like the classic filters than random "
              f"kernels ({num(chance, 2)} ± {num(spread, 2)}): training has turned C1 into edge and stroke "
              "detectors, like the hand-designed ones."),
            learned=learned, chance=chance, spread=spread)
else:
    lecture("filters", "not_distinguishable",
            T(f"les noyaux appris ({num(learned, 2)}) ne se distinguent pas encore de noyaux au hasard "
              f"({num(chance, 2)} ± {num(spread, 2)}) : l'entraînement est trop court pour conclure. Avec "
              "SEANCE = \"complet\", ils se rapprochent nettement des filtres de bords.",
              f"the learned kernels ({num(learned, 2)}) cannot be told from random kernels yet "
              f"({num(chance, 2)} ± {num(spread, 2)}): the training is too short to conclude. With "
              "SEANCE = \"complet\" they get clearly closer to edge filters."),
            learned=learned, chance=chance, spread=spread)

# %% [markdown] tags=["fr", "question"]
# **Question 7.** **Les noyaux appris de C1 ressemblent-ils à des filtres classiques ? Lesquels, et pourquoi
# faut-il les comparer à des noyaux tirés au hasard avant de conclure ?**

# %% [markdown] tags=["en", "question"]
# **Question 7.** **Do the learned kernels of C1 look like classic filters? Which ones, and why must they be
# compared with random kernels before concluding?**

# %% [markdown] tags=["fr", "solution"]
# **Réponse.** Après un entraînement suffisant, la plupart des noyaux de C1 ressemblent à des détecteurs de
# bords orientés (Sobel, Prewitt, Gabor) : le réseau retrouve ce que le traitement d'images dessinait à la
# main. Mais dans une banque de 22 filtres, même un noyau au hasard trouve un voisin assez proche : seul
# l'écart entre le cosinus des noyaux appris et celui des noyaux au hasard montre ce que l'entraînement a
# appris. La « Lecture » ci-dessus dit si cet écart est net dans votre exécution.

# %% [markdown] tags=["en", "solution"]
# **Answer.** After enough training, most of C1's kernels look like oriented edge detectors (Sobel, Prewitt,
# Gabor): the network finds again what image processing used to draw by hand. But in a bank of 22 filters,
# even a random kernel finds a fairly close neighbour: only the gap between the cosine of the learned kernels
# and that of random kernels shows what training has learned. The "Reading" above says whether that gap is
# clear in your run.

# %% [markdown] tags=["fr"]
# ### 6.3 Cartes de caractéristiques
#
# Ce que chaque couche fait d'une image de test : les cartes de C1, réduites par S2, combinées par C3, puis
# les vecteurs de C5 et F6.

# %% [markdown] tags=["en"]
# ### 6.3 Feature maps
#
# What each layer does to a test image: the maps of C1, reduced by S2, combined by C3, then the vectors of C5
# and F6.

# %%
from lenetlab.explore.feature_maps import layer_activations
from lenetlab.explore.figures import feature_maps_figure

lenet.eval()
image = data.test.as_float(0, 1)[0, 0].numpy()
maps = layer_activations(lenet, image)
probabilities = torch.softmax(torch.as_tensor(maps.pop("output")), 0)
for name, value in maps.items():
    print(T(f"{name:>3} : {value.shape[0]} carte(s)" if value.ndim == 3 else f"{name:>3} : {value.shape[0]} valeurs",
            f"{name:>3}: {value.shape[0]} map(s)" if value.ndim == 3 else f"{name:>3}: {value.shape[0]} values"),
          tuple(value.shape))
caption = T(f"étiquette {data.class_names[int(y_test[0])]}, prédit {data.class_names[int(probabilities.argmax())]}",
            f"label {data.class_names[int(y_test[0])]}, predicted {data.class_names[int(probabilities.argmax())]}")
show(feature_maps_figure(image, maps, caption, lang=LANG))

# %% [markdown] tags=["fr", "question"]
# **Question 8.** **Combien de cartes de caractéristiques (*feature maps*) sortent de C1 et de C3, et de
# quelle taille ?** Que semblent détecter les cartes de C1 ?

# %% [markdown] tags=["en", "question"]
# **Question 8.** **How many feature maps come out of C1 and C3, and of what size?** What do the maps of C1
# seem to detect?

# %% [markdown] tags=["fr", "solution"]
# **Réponse.** C1 : 6 cartes de 28×28 (une par noyau) ; S2 les réduit à 6 × 14×14 ; C3 : 16 cartes de 10×10,
# réduites à 16 × 5×5 par S4. Les cartes de C1 répondent aux **bords** du chiffre dans différentes directions
# (clair à gauche et sombre à droite, haut et bas…) : chacune s'allume là où le trait a l'orientation de son
# noyau. Celles de C3 combinent ces bords en motifs plus grands (coins, boucles, fins de traits).

# %% [markdown] tags=["en", "solution"]
# **Answer.** C1: 6 maps of 28×28 (one per kernel); S2 reduces them to 6 × 14×14; C3: 16 maps of 10×10,
# reduced to 16 × 5×5 by S4. The maps of C1 respond to the digit's **edges** in various directions (light on
# the left and dark on the right, top and bottom…): each lights up where the stroke has its kernel's
# orientation. Those of C3 combine these edges into larger patterns (corners, loops, stroke ends).

# %% [markdown] tags=["fr"]
# ### 6.4 Les représentations apprises
#
# Chaque réseau transforme l'image en un vecteur avant la décision : la couche cachée H1 du MLP (120
# valeurs), C5 (120) et F6 (84) pour LeNet-5. Sont-ils mieux rangés par classe que les pixels bruts ? Deux
# mesures, dans l'espace d'origine : l'exactitude d'un **5 plus proches voisins** et le **score de
# silhouette** des vraies classes (de −1 à 1 : les classes forment-elles des paquets compacts et séparés ?).
# Puis une projection en 2D (ACP, et t-SNE sauf en séance de test).

# %% [markdown] tags=["en"]
# ### 6.4 Learned representations
#
# Each network turns the image into a vector before deciding: the MLP's hidden layer H1 (120 values), C5
# (120) and F6 (84) for LeNet-5. Are they better sorted by class than the raw pixels? Two measures, in the
# original space: the accuracy of a **5 nearest neighbours** and the **silhouette score** of the true
# classes (from −1 to 1: do the classes form compact, separate clusters?). Then a 2-d projection (PCA, and
# t-SNE except in the test setting).

# %%
from lenetlab.explore.embeddings import project, representations, separation_scores
from lenetlab.explore.figures import embeddings_figure

mlp.eval()
draw = torch.randperm(len(data.test), generator=torch.Generator().manual_seed(SEED))[:S["embed_points"]]
point_labels = y_test[draw].numpy()
reps = representations(lenet, mlp, x_test[draw])
scores = {name: separation_scores(x, point_labels, seed=SEED) for name, x in reps.items()}
for name, s in scores.items():
    print(f"{name:<9} {s['dimensions']:>4} dimensions  {T('5 plus proches voisins', '5-NN')} "
          f"{pct(s['knn_accuracy']):>8}  silhouette {num(s['silhouette'], 3)}")
show(embeddings_figure({name: project(x, "pca", SEED) for name, x in reps.items()}, point_labels, scores, "pca",
                       data.class_names, lang=LANG))
if S["tsne_points"]:
    n_tsne = min(S["tsne_points"], len(draw))
    show(embeddings_figure({name: project(x[:n_tsne], "tsne", SEED) for name, x in reps.items()},
                           point_labels[:n_tsne], scores, "tsne", data.class_names, lang=LANG))

# %%
order = sorted(scores, key=lambda name: scores[name]["silhouette"])
ranking = " < ".join(f"{name} ({num(scores[name]['silhouette'], 3)})" for name in order)
silhouettes = {name: s["silhouette"] for name, s in scores.items()}
if silhouettes["LeNet F6"] > silhouettes["pixels"]:
    lecture("embeddings", "f6_better",
            T(f"silhouette, de la plus faible à la plus forte : {ranking}. F6, la dernière couche avant la "
              "décision, range mieux les classes que les pixels : le réseau a appris une représentation où les "
              "chiffres d'une même classe se regroupent.",
              f"silhouette, from weakest to strongest: {ranking}. F6, the last layer before the decision, sorts "
              "the classes better than the pixels: the network has learned a representation in which digits of "
              "one class gather."),
            silhouettes=silhouettes)
else:
    lecture("embeddings", "not_yet",
            T(f"silhouette, de la plus faible à la plus forte : {ranking}. F6 ne range pas encore mieux les classes "
              "que les pixels : l'entraînement est trop court pour conclure (essayez SEANCE = \"complet\").",
              f"silhouette, from weakest to strongest: {ranking}. F6 does not sort the classes better than the "
              "pixels yet: the training is too short to conclude (try SEANCE = \"complet\")."),
            silhouettes=silhouettes)

# %% [markdown] tags=["fr"]
# ### 6.5 Convolution ou couches entièrement connectées, à profondeur égale
#
# LeNet-5 a six couches, le MLP trois : est-ce la **convolution** ou seulement la **profondeur** qui fait la
# différence ? On entraîne, avec la même recette et sur les mêmes `S["explore_images"]` images, un MLP
# d'à peu près autant de paramètres que LeNet-5 et un réseau entièrement connecté **de la même profondeur**
# (784-1176-400-120-84-10 : chaque couche a autant de neurones que celle de LeNet-5 qu'elle remplace). Le
# LeNet-5 de référence de ces comparaisons est entraîné une seule fois et resservira en 6.6 et 6.7. Les
# tableaux sont **triés par exactitude de validation**, celle qui sert à choisir ; le test est à côté pour
# information.

# %% [markdown] tags=["en"]
# ### 6.5 Convolution or fully connected layers, at equal depth
#
# LeNet-5 has six layers, the MLP three: is it the **convolution** or only the **depth** that makes the
# difference? We train, with the same recipe and on the same `S["explore_images"]` images, an MLP of about
# LeNet-5's parameter count and a fully connected network **of the same depth** (784-1176-400-120-84-10:
# each layer has as many neurons as the LeNet-5 layer it replaces). The reference LeNet-5 of these
# comparisons is trained once and serves again in 6.6 and 6.7. The tables are **sorted by validation
# accuracy**, the one used to choose; the test accuracy is beside it for information.

# %%
from lenetlab import build_model
from lenetlab.explore.compare import compare_variants

explore_data = first_images(S["explore_images"])
trained = {}  # (model, arguments, recipe) -> result: each network is trained once


def explore_train(model_name, args=None, recipe="default"):
    """Train a network on the exploration images (once); its parameters, accuracies and seconds."""
    args = dict(args or {})
    key = (model_name, json.dumps(args, sort_keys=True), recipe)
    if key not in trained:
        config = TrainConfig.from_preset(recipe, model=model_name, model_args=args, epochs=S["explore_epochs"],
                                         seed=SEED)
        torch.manual_seed(SEED)
        model = build_model(model_name, **args)
        t0 = time.perf_counter()
        fit(model, explore_data, config, progress=False, log=None)
        trained[key] = {"parameters": count_parameters(model), "seconds": time.perf_counter() - t0,
                        "validation": lenetlab.evaluate(model, eval_valid).accuracy,
                        "test": lenetlab.evaluate(model, eval_test).accuracy}
    return trained[key]


def sorted_table(rows):
    """The rows sorted by validation accuracy (best first), the test beside it."""
    width = max(len(name) for name in rows)
    print(f"{T('réseau', 'network'):<{width}} {T('paramètres', 'parameters'):>11} {'validation':>11} {'test':>9} "
          f"{T('secondes', 'seconds'):>9}")
    for name, r in sorted(rows.items(), key=lambda item: -item[1]["validation"]):
        print(f"{name:<{width}} {num(r['parameters']):>11} {pct(r['validation']):>11} {pct(r['test']):>9} "
              f"{num(r['seconds'], 1):>9}")


names = {"lenet5": "LeNet-5", "mlp-same-params": T("MLP, même taille", "MLP, same size"),
         "fc-same-depth": T("entièrement connecté, même profondeur", "fully connected, same depth")}
depth_study = {names[v.name]: explore_train(v.model, v.model_args) for v, _ in compare_variants()}
sorted_table(depth_study)
results["depth_study"] = depth_study

# %%
ref, deep = depth_study["LeNet-5"], depth_study[names["fc-same-depth"]]
ratio = deep["parameters"] / ref["parameters"]
if ref["validation"] >= deep["validation"]:
    lecture("conv_vs_fc", "lenet_not_worse",
            T(f"à profondeur égale, le réseau entièrement connecté a {num(ratio)} fois plus de paramètres que "
              f"LeNet-5 et n'atteint que {pct(deep['validation'])} en validation, contre {pct(ref['validation'])} "
              "pour LeNet-5 : la profondeur seule n'explique pas l'avantage de LeNet-5. La convolution apporte un "
              "a priori sur les images : des détecteurs locaux, appliqués partout.",
              f"at equal depth, the fully connected network has {num(ratio)} times more parameters than LeNet-5 "
              f"and reaches only {pct(deep['validation'])} in validation, against {pct(ref['validation'])} for "
              "LeNet-5: depth alone does not explain LeNet-5's advantage. Convolution brings a prior about images: "
              "local detectors, applied everywhere."),
            lenet=ref["validation"], fc=deep["validation"], ratio=ratio)
else:
    lecture("conv_vs_fc", "fc_better",
            T(f"ici le réseau entièrement connecté ({pct(deep['validation'])}) fait mieux que LeNet-5 "
              f"({pct(ref['validation'])}) en validation, avec {num(ratio)} fois plus de paramètres ; sur "
              f"{num(S['explore_images'])} images et {S['explore_epochs']} époque(s), l'entraînement est trop court "
              "pour conclure. Avec SEANCE = \"complet\" ou `lenetlab explore compare`, LeNet-5 passe devant.",
              f"here the fully connected network ({pct(deep['validation'])}) does better than LeNet-5 "
              f"({pct(ref['validation'])}) in validation, with {num(ratio)} times more parameters; on "
              f"{num(S['explore_images'])} images and {S['explore_epochs']} epoch(s), the training is too short to "
              "conclude. With SEANCE = \"complet\" or `lenetlab explore compare`, LeNet-5 comes first."),
            lenet=ref["validation"], fc=deep["validation"], ratio=ratio)

# %% [markdown] tags=["fr", "question"]
# **Question 9.** **LeNet-5 doit-il son avantage à la convolution ou seulement à sa profondeur ?** Appuyez-vous
# sur le tableau ci-dessus (nombres de paramètres et exactitudes).

# %% [markdown] tags=["en", "question"]
# **Question 9.** **Does LeNet-5 owe its advantage to convolution or only to its depth?** Use the table above
# (parameter counts and accuracies).

# %% [markdown] tags=["fr", "solution"]
# **Réponse.** Le réseau entièrement connecté de même profondeur a environ 24 fois plus de paramètres
# (1 453 094 contre 61 706) et, entraîné assez longtemps, ne fait pas mieux que LeNet-5 : la profondeur
# seule n'explique pas l'avantage. La convolution apporte un a priori sur les images (des détecteurs locaux,
# les mêmes partout) qui économise des paramètres et généralise mieux. Sur un entraînement très court, les
# exactitudes peuvent encore se croiser : la « Lecture » ci-dessus le dit pour votre exécution.

# %% [markdown] tags=["en", "solution"]
# **Answer.** The fully connected network of the same depth has about 24 times more parameters (1,453,094
# against 61,706) and, trained long enough, does no better than LeNet-5: depth alone does not explain the
# advantage. Convolution brings a prior about images (local detectors, the same everywhere) that saves
# parameters and generalises better. On a very short training the accuracies can still cross: the "Reading"
# above says so for your run.

# %% [markdown] tags=["fr"]
# ### 6.6 Pas, remplissage et taille des noyaux
#
# `lenetlab.LeNet5` prend en arguments le pas (`stride`), le remplissage (`padding`) et la taille des noyaux
# (`kernel_size`) de C1. Les tailles d'abord (votre `conv_output_size` les prédit), puis les huit
# combinaisons entraînées ; celle du TD (pas 1, remplissage 2, noyau 5) est le LeNet-5 de 6.5, pas
# réentraîné.

# %% [markdown] tags=["en"]
# ### 6.6 Stride, padding and kernel size
#
# `lenetlab.LeNet5` takes as arguments C1's `stride`, `padding` and `kernel_size`. The sizes first (your
# `conv_output_size` predicts them), then the eight combinations trained; the lab's (stride 1, padding 2,
# kernel 5) is the LeNet-5 of 6.5, not trained again.

# %%
grid = [{"stride": s, "padding": p, "kernel_size": k} for s in (1, 2) for p in (0, 2) for k in (3, 5)]
for args in grid:
    layers = lenetlab.LeNet5(**args).activations(torch.zeros(1, 1, 28, 28))
    sizes = " → ".join(f"{name} {out.shape[-1]}" for name, out in layers.items() if out.dim() == 4)
    print(T(f"pas {args['stride']}, remplissage {args['padding']}, noyau {args['kernel_size']} : {sizes}",
            f"stride {args['stride']}, padding {args['padding']}, kernel {args['kernel_size']}: {sizes}"))


def variant_name(a):
    return T(f"pas {a['stride']}, rempl. {a['padding']}, noyau {a['kernel_size']}",
             f"stride {a['stride']}, padding {a['padding']}, kernel {a['kernel_size']}")


# the lab's LeNet-5 is lenetlab.LeNet5() with its default arguments: the same key, not trained again
grid_study = {variant_name(a): explore_train("lenet5", {} if a == {"stride": 1, "padding": 2, "kernel_size": 5} else a)
              for a in grid}
sorted_table(grid_study)
results["grid_study"] = grid_study

# %%
best_name = max(grid_study, key=lambda name: grid_study[name]["validation"])
stride1 = float(np.mean([grid_study[variant_name(a)]["validation"] for a in grid if a["stride"] == 1]))
stride2 = float(np.mean([grid_study[variant_name(a)]["validation"] for a in grid if a["stride"] == 2]))
text = T(f"la meilleure combinaison en validation est « {best_name} » ({pct(grid_study[best_name]['validation'])}). ",
         f"the best combination in validation is \"{best_name}\" ({pct(grid_study[best_name]['validation'])}). ")
if stride1 > stride2:
    text += T(f"En moyenne, un pas de 1 ({pct(stride1)}) fait mieux qu'un pas de 2 ({pct(stride2)}) : avec un pas "
              "de 2, C1 voit l'image plus grossièrement (et C3 a quatre fois moins de calcul).",
              f"On average, a stride of 1 ({pct(stride1)}) does better than a stride of 2 ({pct(stride2)}): with a "
              "stride of 2, C1 sees the image more coarsely (and C3 has four times less computation).")
    verdict = "stride1_better"
else:
    text += T(f"En moyenne, un pas de 2 ({pct(stride2)}) fait au moins aussi bien qu'un pas de 1 ({pct(stride1)}) : "
              "sur un entraînement aussi court, l'écart n'est pas significatif ; SEANCE = \"complet\" le tranche.",
              f"On average, a stride of 2 ({pct(stride2)}) does at least as well as a stride of 1 ({pct(stride1)}): "
              "on a training this short the gap is not significant; SEANCE = \"complet\" settles it.")
    verdict = "stride2_not_worse"
lecture("grid", verdict, text, best=best_name, stride1=stride1, stride2=stride2)

# %% [markdown] tags=["fr", "question"]
# **Question 10.** **Quel est l'effet d'un pas de 2 dans C1 sur la taille des cartes, le nombre de paramètres
# et l'exactitude ?** Et celui du remplissage ?

# %% [markdown] tags=["en", "question"]
# **Question 10.** **What is the effect of a stride of 2 in C1 on the size of the maps, the number of
# parameters and the accuracy?** And that of the padding?

# %% [markdown] tags=["fr", "solution"]
# **Réponse.** Un pas de 2 divise par deux le côté de toutes les cartes suivantes : quatre fois moins de
# calcul dans C3, et moins de paramètres dans C5 (qui couvre toute la sortie de S4), au prix d'une image vue
# plus grossièrement, d'où en général une exactitude un peu plus basse (voir la « Lecture » ci-dessus pour
# votre exécution). Le remplissage garde les bords de l'image : les chiffres de MNIST en sont loin, son effet
# sur l'exactitude est faible, mais il change toutes les tailles (et donc le nombre de paramètres de C5).

# %% [markdown] tags=["en", "solution"]
# **Answer.** A stride of 2 halves the side of all the following maps: four times less computation in C3,
# and fewer parameters in C5 (which covers S4's whole output), at the cost of a coarser view of the image,
# hence usually a slightly lower accuracy (see the "Reading" above for your run). Padding keeps the borders
# of the image: MNIST digits are far from them, so its effect on accuracy is small, but it changes all the
# sizes (and so the number of parameters of C5).

# %% [markdown] tags=["fr"]
# ### 6.7 Le LeNet-5 de l'article (1998) et celui du TD
#
# `lenetlab` fournit aussi le LeNet-5 de l'article, `lenet5-1998` : image centrée dans 32×32, S2 et S4 avec
# un coefficient et un biais entraînables par carte, C3 partiellement connectée (table I de l'article),
# activation 1,7159 tanh(2a/3), sortie faite de 10 unités RBF aux dessins fixés à la main, optimiseur SDLM.
# Total : 60 000 paramètres. On l'entraîne avec la recette de l'article (`paper`), à côté du LeNet-5 de 6.5.

# %% [markdown] tags=["en"]
# ### 6.7 The paper's LeNet-5 (1998) and the lab's
#
# `lenetlab` also provides the paper's LeNet-5, `lenet5-1998`: the image centred in 32×32, S2 and S4 with a
# trainable coefficient and bias per map, C3 partially connected (the paper's table I), activation
# 1.7159 tanh(2a/3), an output of 10 RBF units with hand-drawn fixed prototypes, the SDLM optimiser. Total:
# 60,000 parameters. It is trained with the paper's recipe (`paper`), beside the LeNet-5 of 6.5.

# %%
paper_study = {T("LeNet-5 du TD", "the lab's LeNet-5"): explore_train("lenet5"),
               T("LeNet-5 de 1998", "1998 LeNet-5"): explore_train("lenet5-1998", recipe="paper")}
sorted_table(paper_study)
results["paper_study"] = paper_study

# %%
lab, paper = paper_study.values()
if lab["validation"] >= paper["validation"]:
    lecture("paper", "lab_not_worse",
            T(f"le LeNet-5 du TD ({pct(lab['validation'])}) fait au moins aussi bien que celui de 1998 "
              f"({pct(paper['validation'])}) dans ces conditions : les choix modernes (C3 complète, sortie "
              "linéaire et entropie croisée, recette actuelle) valent ceux de l'article.",
              f"the lab's LeNet-5 ({pct(lab['validation'])}) does at least as well as the 1998 one "
              f"({pct(paper['validation'])}) in these conditions: the modern choices (full C3, linear output and "
              "cross-entropy, today's recipe) are worth the paper's."),
            lab=lab["validation"], paper=paper["validation"])
else:
    lecture("paper", "paper_better",
            T(f"le LeNet-5 de 1998 ({pct(paper['validation'])}) fait mieux que celui du TD ({pct(lab['validation'])}) "
              "dans ces conditions. Sur un entraînement aussi court, c'est surtout l'optimiseur qui joue ; "
              "`lenetlab paper --ablation` compare chaque choix de 1998 à son équivalent moderne, un à la fois.",
              f"the 1998 LeNet-5 ({pct(paper['validation'])}) does better than the lab's ({pct(lab['validation'])}) "
              "in these conditions. On a training this short the optimiser matters most; `lenetlab paper "
              "--ablation` compares each 1998 choice with its modern equivalent, one at a time."),
            lab=lab["validation"], paper=paper["validation"])

# %% [markdown] tags=["fr", "question"]
# **Question 11.** **Citez trois différences entre le LeNet-5 de l'article et celui du TD, et dites pourquoi
# l'article compte 60 000 paramètres et non 61 706.**

# %% [markdown] tags=["en", "question"]
# **Question 11.** **Name three differences between the paper's LeNet-5 and the lab's, and say why the paper
# counts 60,000 parameters and not 61,706.**

# %% [markdown] tags=["fr", "solution"]
# **Réponse.** Dans l'article : C3 ne relie chaque carte qu'à 3, 4 ou 6 cartes de S2 (1 516 paramètres au lieu
# de 2 416) ; S2 et S4 multiplient la somme de leurs 4 entrées par un coefficient entraînable et ajoutent un
# biais, par carte (12 et 32 paramètres) ; la sortie est faite de 10 unités RBF dont les poids sont des
# dessins fixés à la main (0 paramètre entraînable au lieu de 850) ; l'activation est 1,7159 tanh(2a/3) ; la
# perte est un critère MAP, l'optimiseur le SDLM. D'où 156 + 12 + 1 516 + 32 + 48 120 + 10 164 = 60 000.

# %% [markdown] tags=["en", "solution"]
# **Answer.** In the paper: C3 connects each map to only 3, 4 or 6 maps of S2 (1,516 parameters instead of
# 2,416); S2 and S4 multiply the sum of their 4 inputs by a trainable coefficient and add a bias, per map (12
# and 32 parameters); the output is made of 10 RBF units whose weights are fixed hand-drawn prototypes (0
# trainable parameters instead of 850); the activation is 1.7159 tanh(2a/3); the loss is a MAP criterion, the
# optimiser SDLM. Hence 156 + 12 + 1,516 + 32 + 48,120 + 10,164 = 60,000.

# %% [markdown] tags=["fr"]
# ### Pour aller plus loin
#
# La ligne de commande entraîne et compare sur toutes les images, avec reprise après interruption :
# `lenetlab explore compare` (la comparaison de 6.5), `lenetlab explore sweep --vary stride=1,2 --vary
# padding=0,2 --vary kernel_size=3,5` (celle de 6.6), `lenetlab paper --ablation` (celle de 6.7).

# %% [markdown] tags=["en"]
# ### Going further
#
# The command line trains and compares on all the images, resuming after an interruption:
# `lenetlab explore compare` (the comparison of 6.5), `lenetlab explore sweep --vary stride=1,2 --vary
# padding=0,2 --vary kernel_size=3,5` (that of 6.6), `lenetlab paper --ablation` (that of 6.7).

# %%
results["history"] = {"MLP": history_mlp, "LeNet-5": history_lenet}
results["parameters"] = {"MLP": count_parameters(mlp), "LeNet-5": count_parameters(lenet)}
results["test_accuracy"] = {"MLP": result_mlp.accuracy, "LeNet-5": result_lenet.accuracy}
results["per_class"] = {"MLP": list(result_mlp.per_class_accuracy), "LeNet-5": list(result_lenet.per_class_accuracy)}
results["filters"] = {"learned": learned, "chance": chance, "spread": spread}
results["silhouette"] = silhouettes
results["macs"] = macs
Path(RESULTS_PATH).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
