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
# # TD : Implémentation d'un réseau convolutif — version complétée
#
# Ce notebook est le TD *« Implémentation d'un réseau convolutif »* (LeNet-5 sur MNIST) **complété et
# corrigé**, écrit sur l'API Python de `lenetlab`. Chaque « à vous de compléter » a sa réponse, et chaque
# cellule cassée de l'original est réparée, avec une note **« Correction »** qui dit ce qui n'allait pas :
#
# | # | dans le TD original | ce qui se passe | ici |
# |---|---|---|---|
# | 1 | grille d'exemples `plt.subplot(n/4, 4, i)` | `n/4` est un flottant : matplotlib refuse (`Number of rows must be a positive integer`) | lignes et colonnes entières |
# | 2 | `images, labels = dataiter.next()` | l'itérateur du `DataLoader` n'a plus de méthode `.next()` (PyTorch ≥ 1.13) : `AttributeError` | `next(iter(loader))` |
# | 3 | `transforms.ToTensor()` image par image (PIL) | chaque époque reconvertit 48 000 images PIL une à une : lent | tout le jeu reste en mémoire sous forme de tenseurs, les lots sont pris par indexation |
# | 4 | `valid_loss = loss.item()` dans la boucle de validation | la perte est **écrasée** à chaque lot : on ne garde que celle du dernier lot | perte **sommée** sur tous les lots, divisée par le nombre d'images |
# | 5 | `plt.plot(train_losses / np.sum(train_losses))` | chaque courbe est divisée par sa propre somme : les valeurs ne veulent plus rien dire et les deux courbes ne sont plus comparables | courbes tracées telles quelles |
#
# Une version anglaise, cellule pour cellule, est dans `td_lenet5_en.ipynb`.
#
# **Pour l'ouvrir** (depuis la racine du dépôt) :
#
# ```bash
# pip install -e '.[notebook]'
# jupyter lab notebooks/td_lenet5.ipynb
# ```
#
# La source du notebook est `notebooks/td_lenet5.py` (format « percent » de jupytext, voir
# `docs/notebook.md`), qui se lance aussi comme un script : `cd notebooks && python td_lenet5.py` (hors de
# Jupyter, les figures sont enregistrées en PNG dans un dossier temporaire, dont le chemin est imprimé).
#
# Aucune connexion n'est nécessaire : MNIST (les quatre fichiers IDX originaux) est fourni avec le paquet.
# Avec les valeurs par défaut de la cellule de paramètres ci-dessous, tout le notebook tourne en quelques
# minutes sur un processeur à 2 cœurs (mesure dans `docs/notebook.md`).

# %% [markdown]
# ## Paramètres
#
# Cette cellule porte l'étiquette `parameters` : les tests la remplacent par de petites valeurs (1 époque)
# pour exécuter tout le notebook rapidement. Avec ces valeurs, LeNet-5 atteint 99,1 % sur le test et le
# MLP 98,2 % ; `EPOCHS_LENET = 20` donne 99,3 %.

# %% tags=["parameters"]
EPOCHS_MLP = 15       # époques du perceptron multi-couche (environ 0,6 s chacune sur 2 cœurs libres)
EPOCHS_LENET = 12     # époques de LeNet-5 (environ 3,5 s chacune sur 2 cœurs libres) : 99,1 %
RECETTE = "default"   # "default" : la recette du projet ; "seed" : celle du TD (SGD à 0,01, ~90 % en 15 époques)
EMBED_POINTS = 3000   # images de test pour les scores k-NN / silhouette et l'ACP
TSNE_POINTS = 1500    # images projetées par t-SNE (l'étape la plus lente de l'exploration)
SEED = 0              # graine du découpage, de l'initialisation et du mélange des lots
EPOCHS_EXPLORE = 3    # époques de chaque réseau des comparaisons de l'exploration (6.5 à 6.7)
EXPLORE_IMAGES = 12000  # images d'entraînement de ces comparaisons (sur 48 000), pour qu'elles restent rapides

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

# Sans ipywidgets, tqdm prévient qu'il ne peut pas dessiner de barre de progression dans le notebook ;
# on entraîne ici sans barre (progress=False), l'avertissement ne ferait que du bruit.
warnings.filterwarnings("ignore", message="IProgress not found")

try:
    import lenetlab
except ImportError:  # pas installé : on le prend dans src/ du dépôt (depuis la racine ou depuis notebooks/)
    for racine in (Path.cwd(), Path.cwd().parent):
        if (racine / "src" / "lenetlab").is_dir():
            sys.path.insert(0, str(racine / "src"))
            break
    import lenetlab

from lenetlab import MLP, LeNet5, TrainConfig, build_model, count_parameters, evaluate, fit, load_mnist, plots
from lenetlab.data import ImageSet
from lenetlab.explore.compare import compare_variants
from lenetlab.i18n import number, percent
from lenetlab.models.lenet1998 import LeNet5_1998, prototype_bitmaps


def nb_fr(x, chiffres=0):
    """Un nombre écrit à la française : 61 706 ; 0,2850."""
    return number(x, "fr", chiffres)


def pct_fr(fraction, chiffres=2):
    """Une proportion en pourcentage à la française : 99,34 %."""
    return percent(fraction, "fr", chiffres)

try:  # dans Jupyter, les figures s'affichent dans le notebook
    from IPython import get_ipython
    from IPython.display import Image, display

    DANS_JUPYTER = get_ipython() is not None
except ImportError:  # sans IPython
    DANS_JUPYTER = False
figures_enregistrees = []  # hors de Jupyter (python td_lenet5.py), les figures sont enregistrées en PNG


def montrer(fig, dpi=80):
    """Affiche une figure matplotlib (les fonctions de lenetlab.plots renvoient des Figure, sans pyplot)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    if DANS_JUPYTER:
        display(Image(data=buffer.getvalue()))
        return
    if figures_enregistrees:
        dossier = figures_enregistrees[0].parent
    else:
        dossier = Path(tempfile.mkdtemp(prefix="td_lenet5_figures_"))
    chemin = dossier / f"figure_{len(figures_enregistrees) + 1:02d}.png"
    chemin.write_bytes(buffer.getvalue())
    figures_enregistrees.append(chemin)
    print(f"[figure enregistrée : {chemin}]")


def historique(etat):
    """L'historique renvoyé par fit (une liste d'EpochRecord) sous forme de dictionnaires, pour les figures."""
    return [dataclasses.asdict(r) for r in etat.history]


torch.manual_seed(SEED)
print(f"lenetlab {lenetlab.__version__}, PyTorch {torch.__version__}, {torch.get_num_threads()} threads")

# %% [markdown]
# ## 1. Données
#
# MNIST : 60 000 images d'entraînement et 10 000 images de test, des chiffres manuscrits en niveaux de gris
# de 28×28 pixels. Comme dans le TD, on met de côté 20 % des images d'entraînement (tirées au hasard avec une
# graine fixe) pour la **validation** : 48 000 pour apprendre, 12 000 pour choisir le nombre d'époques et la
# recette, et le test n'est regardé qu'à la fin.
#
# `load_mnist()` lit les fichiers IDX fournis avec le paquet (leur sha256 est vérifié à chaque chargement)
# et garde chaque partie en mémoire : `images` (uint8, N×28×28) et `labels` (int64).

# %%
data = load_mnist(seed=SEED)
print(f"entraînement {nb_fr(len(data.train))}, validation {nb_fr(len(data.valid))}, test {nb_fr(len(data.test))} images")
print("images :", tuple(data.train.images.shape), data.train.images.dtype, "; étiquettes :", data.train.labels.dtype)
print("classes :", data.class_names)
x = data.train.as_float()  # (N, 1, 28, 28) dans [0, 1], comme ToTensor()
print(f"pixels dans [0, 1] : moyenne {nb_fr(x.mean(), 4)}, écart-type {nb_fr(x.std(), 4)}")
print("images par classe (entraînement) :", torch.bincount(data.train.labels).tolist())
del x

# %% [markdown]
# ### Correction 1 — la grille d'exemples
#
# Le TD construisait la grille en calculant le nombre de lignes par une division, du type
# `plt.subplot(n/4, 4, i)` : en Python 3, `n/4` est un **flottant** (`4.0`) et matplotlib refuse un nombre
# de lignes non entier. Le nombre de lignes doit être un entier : `math.ceil(n / colonnes)` (ou
# `n // colonnes` quand la division tombe juste). `plots.samples_figure` le fait.

# %%
montrer(plots.samples_figure(data.train.images[:16].numpy(), data.train.labels[:16].numpy(), data.class_names))

# %% [markdown]
# **À vous de compléter : afficher un exemple de chaque chiffre.** Réponse, avec une grille d'entiers :

# %%
from matplotlib.figure import Figure

colonnes = 5
lignes = math.ceil(data.n_classes / colonnes)  # un entier : 2, pas 2.0
fig = Figure(figsize=(1.5 * colonnes, 1.7 * lignes), layout="constrained")
axes = fig.subplots(lignes, colonnes)
for chiffre, ax in enumerate(axes.ravel()):
    premier = int(torch.nonzero(data.train.labels == chiffre)[0])
    ax.imshow(data.train.images[premier], cmap="gray")
    ax.set_title(f"{data.class_names[chiffre]} (image {premier})", fontsize=9)
    ax.axis("off")
montrer(fig)

# %% [markdown]
# ### Correction 2 — `dataiter.next()`
#
# Le TD prenait un lot avec `dataiter = iter(train_loader)` puis `images, labels = dataiter.next()`. Les
# itérateurs de `DataLoader` n'ont plus de méthode `.next()` depuis PyTorch 1.13 (`AttributeError:
# '_SingleProcessDataLoaderIter' object has no attribute 'next'`) : en Python 3, on écrit **`next(iter(loader))`**.

# %%
from torch.utils.data import DataLoader, TensorDataset

loader = DataLoader(TensorDataset(data.train.images, data.train.labels), batch_size=64, shuffle=True)
images, labels = next(iter(loader))  # et non dataiter.next()
print("un lot :", tuple(images.shape), images.dtype, "étiquettes :", labels[:12].tolist())

# %% [markdown]
# ### Correction 3 — la lenteur du chargement
#
# Le TD passait par `torchvision.datasets.MNIST(..., transform=transforms.ToTensor())` : à **chaque** époque,
# chaque image est reconvertie une à une (image PIL → tableau → tenseur → division par 255), ce qui coûte
# plus cher que l'apprentissage lui-même pour un réseau aussi petit. `lenetlab` garde tout le jeu en mémoire
# (47 Mo en uint8) et convertit un lot entier d'un coup, par indexation. Comparons sur 5 000 images :

# %%
from PIL import Image as PILImage

n = 5000
t0 = time.perf_counter()
une_par_une = torch.stack([
    torch.from_numpy(np.asarray(PILImage.fromarray(img.numpy()), dtype=np.float32) / 255.0).unsqueeze(0)
    for img in data.train.images[:n]
])
t_pil = time.perf_counter() - t0
t0 = time.perf_counter()
en_bloc = data.train.as_float(0, n)
t_bloc = time.perf_counter() - t0
assert torch.allclose(une_par_une, en_bloc)  # exactement les mêmes entrées
print(f"image par image (PIL) : {nb_fr(1000 * t_pil)} ms ; en bloc : {nb_fr(1000 * t_bloc, 1)} ms "
      f"(environ {nb_fr(t_pil / max(t_bloc, 1e-6))} fois plus rapide)")


# %% [markdown]
# ## 2. Réseau multi-couche
#
# **À vous de compléter : le perceptron multi-couche.** L'image est aplatie en un vecteur de 784 pixels,
# puis deux couches cachées de 120 et 84 neurones (ReLU) et une couche de sortie de 10 scores, un par
# chiffre (pas de softmax : `cross_entropy` l'inclut). Réponse :

# %%
class MonMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.reseau = nn.Sequential(
            nn.Flatten(),                      # (N, 1, 28, 28) -> (N, 784)
            nn.Linear(28 * 28, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),                 # 10 scores (logits)
        )

    def forward(self, x):
        return self.reseau(x)


print(MonMLP()(torch.zeros(2, 1, 28, 28)).shape)
print("MonMLP :", nb_fr(count_parameters(MonMLP())), "paramètres")

# %% [markdown]
# `lenetlab.MLP` est exactement ce réseau (mêmes couches, mêmes tailles), avec des couches nommées `H1`,
# `H2`, `output` et une méthode `activations(x)` qui renvoie la sortie de chacune (on s'en sert dans
# l'exploration). Le nombre de paramètres se calcule couche par couche : poids + biais.
#
# | couche | calcul | paramètres |
# |---|---|---:|
# | H1 | 784 × 120 + 120 | 94 200 |
# | H2 | 120 × 84 + 84 | 10 164 |
# | output | 84 × 10 + 10 | 850 |
# | **total** | | **105 214** |
#
# 90 % des paramètres sont dans la première couche : chaque neurone de H1 a son propre poids pour chacun
# des 784 pixels.

# %%
mlp = MLP()
print(mlp)
par_couche = {nom: count_parameters(couche) for nom, couche in mlp.layers.named_children() if nom != "flatten"}
print(par_couche)
assert par_couche == {"H1": 784 * 120 + 120, "H2": 120 * 84 + 84, "output": 84 * 10 + 10}
assert count_parameters(mlp) == count_parameters(MonMLP()) == 105_214
print(f"MLP : {nb_fr(count_parameters(mlp))} paramètres")

# %% [markdown]
# ## 3. Entraînement
#
# **À vous de compléter : la boucle d'entraînement.** Pour chaque lot : calculer les scores, la perte
# d'entropie croisée, remettre les gradients à zéro, rétropropager, faire un pas d'optimisation. Après chaque
# époque : la perte de validation, **sans** gradient et en mode évaluation.
#
# ### Correction 4 — la perte de validation écrasée
#
# Le TD écrivait, en substance, dans la boucle de validation :
#
# ```python
# for data, target in valid_loader:
#     output = model(data)
#     loss = criterion(output, target)
#     valid_loss = loss.item() * data.size(0)   # "=" : écrase la valeur du lot précédent
# valid_loss = valid_loss / len(valid_loader.sampler)
# ```
#
# Le `=` remplace la perte à chaque lot : à la fin, il ne reste que celle du **dernier** lot, divisée par la
# taille de tout le jeu — un nombre beaucoup trop petit, et qui dépend surtout de la taille du dernier lot.
# Il faut **sommer** (`+=`) sur tous les lots, puis diviser par le nombre d'images. Voici la boucle corrigée,
# écrite à la main, et la version du TD pour comparer :

# %%
import torch.nn.functional as F


def une_epoque(model, optimizer, images, labels, batch_size=64, generateur=None):
    """Une époque d'entraînement ; renvoie la perte moyenne par image."""
    model.train()
    ordre = torch.randperm(len(labels), generator=generateur)
    somme = 0.0
    for debut in range(0, len(labels), batch_size):
        idx = ordre[debut:debut + batch_size]
        x = images[idx].unsqueeze(1).float() / 255.0
        perte = F.cross_entropy(model(x), labels[idx])
        optimizer.zero_grad()
        perte.backward()
        optimizer.step()
        somme += perte.item() * len(idx)
    return somme / len(labels)


@torch.no_grad()
def perte_validation(model, images, labels, batch_size=500):
    """Corrigée : la perte est SOMMÉE sur tous les lots, puis divisée par le nombre d'images."""
    model.eval()
    somme = 0.0
    for debut in range(0, len(labels), batch_size):
        x = images[debut:debut + batch_size].unsqueeze(1).float() / 255.0
        somme += F.cross_entropy(model(x), labels[debut:debut + batch_size], reduction="sum").item()
    return somme / len(labels)


@torch.no_grad()
def perte_validation_du_td(model, images, labels, batch_size=500):
    """La version du TD, pour comparer : `=` au lieu de `+=`."""
    model.eval()
    valid_loss = 0.0
    for debut in range(0, len(labels), batch_size):
        x = images[debut:debut + batch_size].unsqueeze(1).float() / 255.0
        loss = F.cross_entropy(model(x), labels[debut:debut + batch_size])
        valid_loss = loss.item() * len(x)  # le bogue : écrase au lieu de sommer
    return valid_loss / len(labels)


torch.manual_seed(SEED)
essai = MLP()
optimiseur = torch.optim.SGD(essai.parameters(), lr=0.05, momentum=0.9)
perte_train = une_epoque(essai, optimiseur, data.train.images, data.train.labels,
                         generateur=torch.Generator().manual_seed(SEED))
corrigee = perte_validation(essai, data.valid.images, data.valid.labels)
du_td = perte_validation_du_td(essai, data.valid.images, data.valid.labels)
reference = evaluate(essai, data.valid).loss  # ce que calcule lenetlab
print(f"une époque à la main : perte d'entraînement {nb_fr(perte_train, 4)}")
print(f"perte de validation corrigée {nb_fr(corrigee, 4)} ; lenetlab.evaluate {nb_fr(reference, 4)} ; "
      f"version du TD {nb_fr(du_td, 6)}")
assert abs(corrigee - reference) < 1e-4

# %% [markdown]
# La version du TD donne une perte une vingtaine de fois trop petite : des 24 lots de 500 images de la
# validation, elle ne garde que le dernier, puis divise par 12 000. `lenetlab.fit` fait la même boucle,
# corrigée, avec en plus un mélange et une augmentation reproductibles (graines), un programme de taux
# d'apprentissage et, si on lui donne un dossier, la sauvegarde des poids de la meilleure époque.
#
# ### La recette
#
# `TrainConfig.from_preset(RECETTE)` décrit tout l'entraînement :
#
# - `"seed"` : la recette du TD (SGD à 0,01, lots de 256, 15 époques). Elle est correcte mais lente : LeNet-5
#   n'atteint qu'environ 90 % en 15 époques, la perte baisse encore.
# - `"default"` : la recette du projet — SGD avec moment de Nesterov 0,9, taux « one-cycle » jusqu'à 0,05
#   (montée puis descente linéaire jusqu'à 0), lots de 128, *label smoothing* 0,1, décalages aléatoires de
#   ±2 pixels, *weight decay* 5e-4. Même réseau, 99,3 % en 20 époques.

# %%
config_mlp = TrainConfig.from_preset(RECETTE, model="mlp", epochs=EPOCHS_MLP, seed=SEED)
print(config_mlp)
torch.manual_seed(SEED)
mlp = MLP()
t0 = time.perf_counter()
etat_mlp = fit(mlp, data, config_mlp, progress=False)
secondes_mlp = time.perf_counter() - t0
print(f"MLP : {EPOCHS_MLP} époques en {nb_fr(secondes_mlp, 1)} s")

# %% [markdown]
# ### Correction 5 — les courbes de perte divisées par leur somme
#
# Le TD traçait `plt.plot(train_losses / np.sum(train_losses))` et de même pour la validation. Diviser
# chaque courbe par sa **propre** somme garde la forme mais change l'échelle : les valeurs ne sont plus des
# pertes, et les deux courbes, divisées par des nombres différents, ne se comparent plus (c'est pourtant la
# comparaison entraînement / validation qui montre le surapprentissage). On les trace **telles quelles** :

# %%
montrer(plots.loss_curves_figure(historique(etat_mlp)))


# %% [markdown]
# **Pourquoi la perte d'entraînement est-elle au-dessus de celle de validation ?** Avec la recette
# `default`, la perte d'entraînement est mesurée sur des images décalées (augmentation) et avec le *label
# smoothing* : la cible n'est plus 1 pour la bonne classe mais 0,91, si bien que cette perte ne peut pas
# descendre sous 0,5 environ. La perte de validation, elle, est l'entropie croisée ordinaire sur des images
# non modifiées. Le surapprentissage se verrait à une perte de validation qui **remonte** ; c'est elle qui
# choisit la meilleure époque.

# %% [markdown]
# ## 4. Évaluation
#
# On évalue une seule fois, à la fin, sur les 10 000 images de test. `evaluate` renvoie la perte, la
# exactitude (le taux de réussite), l'exactitude par classe et la matrice de confusion.
#
# **À vous de compléter : l'exactitude de chaque classe.** Réponse :

# %%
def tableau_par_classe(resultat, class_names):
    matrice = np.asarray(resultat.confusion_matrix)
    for k, nom in enumerate(class_names):
        justes, total = int(matrice[k, k]), int(matrice[k].sum())
        print(f"Exactitude du chiffre {nom} : {pct_fr(justes / total, 1):>7} ({justes:4d}/{total:4d})")
    justes, total = int(np.trace(matrice)), int(matrice.sum())
    print(f"Exactitude globale  : {pct_fr(justes / total)} ({justes}/{total})")


resultat_mlp = evaluate(mlp, data.test)
print(f"Exactitude sur le test (MLP) : {pct_fr(resultat_mlp.accuracy)}, perte {nb_fr(resultat_mlp.loss, 4)}")
tableau_par_classe(resultat_mlp, data.class_names)

# %%
montrer(plots.per_class_accuracy_figure(resultat_mlp.per_class_accuracy, data.class_names))
montrer(plots.confusion_matrix_figure(resultat_mlp.confusion_matrix, data.class_names))


# %% [markdown]
# Les prédictions sur les premières images de test (« prédit (vrai) », en rouge quand c'est faux), puis
# uniquement des erreurs :

# %%
def montrer_predictions(resultat, titre):
    images_test, vrais = data.test.images.numpy(), data.test.labels.numpy()
    predits = resultat.predictions.numpy()
    montrer(plots.predictions_figure(images_test, predits, vrais, data.class_names, n=20))
    erreurs = np.flatnonzero(predits != vrais)[:20]
    print(f"{titre} : {len(np.flatnonzero(predits != vrais))} erreurs sur {len(vrais)} ; les premières :")
    if len(erreurs):
        montrer(plots.predictions_figure(images_test[erreurs], predits[erreurs], vrais[erreurs], data.class_names,
                                         n=len(erreurs)))


montrer_predictions(resultat_mlp, "MLP")


# %%
def confusions_principales(resultat, k=5):
    """Les k paires (vrai, prédit) les plus fréquentes hors de la diagonale."""
    matrice = np.array(resultat.confusion_matrix)
    np.fill_diagonal(matrice, 0)
    paires = np.dstack(np.unravel_index(np.argsort(matrice, axis=None)[::-1][:k], matrice.shape))[0]
    return [(data.class_names[i], data.class_names[j], int(matrice[i, j])) for i, j in paires]


for vrai, predit, nombre in confusions_principales(resultat_mlp):
    print(f"{vrai} pris pour {predit} : {nombre} fois")

# %% [markdown]
# **Quels chiffres le réseau confond-il ?** La liste ci-dessus, calculée sur la matrice de confusion,
# répond pour votre exécution. On y trouve en général des paires de formes voisines (4 et 9, 7 et 2, 3 et
# 5, 8 et 3…). Un perceptron regarde des pixels à des positions fixes : un chiffre décalé de deux pixels
# est pour lui une autre image. C'est ce que corrige le réseau convolutif.

# %% [markdown]
# ## 5. Réseau convolutif LeNet-5
#
# LeNet-5 (LeCun et al., 1998), tel que le TD le décrit :
#
# | couche | opération | sortie |
# |---|---|---|
# | C1 | convolution 1 → 6, noyau 5×5, pas 1, *padding* 2, tanh | 6 × 28 × 28 |
# | S2 | sous-échantillonnage : moyenne 2×2, pas 2 | 6 × 14 × 14 |
# | C3 | convolution 6 → 16, 5×5, tanh | 16 × 10 × 10 |
# | S4 | moyenne 2×2, pas 2 | 16 × 5 × 5 |
# | C5 | convolution 16 → 120, 5×5, tanh | 120 × 1 × 1 |
# | F6 | linéaire 120 → 84, tanh | 84 |
# | output | linéaire 84 → 10 | 10 |
#
# (Le TD écrit « padding de 2 » pour S2 : un *pooling* 2×2 ne peut pas prendre un *padding* de 2 — PyTorch
# le refuse —, il s'agit du **pas** de 2, comme dans l'article.)
#
# **À vous de compléter : la classe LeNet-5** avec un `feature_extractor` (C1 à C5) et un `classifier` (F6,
# sortie). C'est `lenetlab.LeNet5`, dont chaque choix est un argument du constructeur (activation, type de
# *pooling*, nombres de cartes, taille des noyaux…). Les tailles de sortie, couche par couche :

# %%
torch.manual_seed(SEED)
lenet = LeNet5()
print(lenet)
with torch.no_grad():
    for nom, sortie in lenet.activations(torch.zeros(1, 1, 28, 28)).items():
        print(f"{nom:>6} : {tuple(sortie.shape[1:])}")

# %% [markdown]
# **À vous de compléter : le nombre de paramètres, couche par couche.** Une convolution de `c_in` cartes
# vers `c_out` cartes avec des noyaux `k × k` a `c_out × (c_in × k × k)` poids plus `c_out` biais : un noyau
# par paire (entrée, sortie), **partagé** par toutes les positions de l'image. Une couche linéaire a
# `n_in × n_out` poids plus `n_out` biais. Les *poolings* par moyenne n'ont pas de paramètre.
#
# | couche | calcul | paramètres |
# |---|---|---:|
# | C1 | 6 × (1 × 5 × 5) + 6 | 156 |
# | S2 | — | 0 |
# | C3 | 16 × (6 × 5 × 5) + 16 | 2 416 |
# | S4 | — | 0 |
# | C5 | 120 × (16 × 5 × 5) + 120 | 48 120 |
# | F6 | 120 × 84 + 84 | 10 164 |
# | output | 84 × 10 + 10 | 850 |
# | **total** | | **61 706** |
#
# C5 porte 78 % des paramètres. Dans l'article de 1998, le total est de 60 000 : S2 et S4 y ont un
# coefficient et un biais entraînables par carte (12 et 32 paramètres), C3 ne relie chaque carte qu'à une
# partie des cartes de S2 (1 516 paramètres au lieu de 2 416) et la sortie est faite de 10 unités RBF aux
# poids fixés à la main : 156 + 12 + 1 516 + 32 + 48 120 + 10 164 = 60 000.

# %%
couches = {**dict(lenet.feature_extractor.named_children()), **dict(lenet.classifier.named_children())}
formules = {"C1": 6 * (1 * 5 * 5) + 6, "S2": 0, "C3": 16 * (6 * 5 * 5) + 16, "S4": 0,
            "C5": 120 * (16 * 5 * 5) + 120, "F6": 120 * 84 + 84, "output": 84 * 10 + 10}
for nom, attendu in formules.items():
    compte = count_parameters(couches[nom])
    print(f"{nom:>6} : {nb_fr(compte):>6} paramètres")
    assert compte == attendu, (nom, compte, attendu)
assert count_parameters(lenet) == sum(formules.values()) == 61_706
print(f"LeNet-5 : {nb_fr(count_parameters(lenet))} paramètres")
print(f"MLP : {nb_fr(count_parameters(mlp))} paramètres")

# %% [markdown]
# LeNet-5 a **40 % de paramètres en moins** que le MLP. Entraînons-le avec la même recette :

# %%
config_lenet = TrainConfig.from_preset(RECETTE, model="lenet5", epochs=EPOCHS_LENET, seed=SEED)
torch.manual_seed(SEED)
lenet = LeNet5()
t0 = time.perf_counter()
etat_lenet = fit(lenet, data, config_lenet, progress=False)
secondes_lenet = time.perf_counter() - t0
print(f"LeNet-5 : {EPOCHS_LENET} époques en {nb_fr(secondes_lenet, 1)} s "
      f"(meilleure perte de validation à l'époque {etat_lenet.best_epoch})")

# %%
montrer(plots.loss_curves_figure(historique(etat_lenet)))

# %%
resultat_lenet = evaluate(lenet, data.test)
print(f"Exactitude sur le test (LeNet-5) : {pct_fr(resultat_lenet.accuracy)}, perte {nb_fr(resultat_lenet.loss, 4)}")
tableau_par_classe(resultat_lenet, data.class_names)
montrer(plots.per_class_accuracy_figure(resultat_lenet.per_class_accuracy, data.class_names))
montrer(plots.confusion_matrix_figure(resultat_lenet.confusion_matrix, data.class_names))

# %%
montrer_predictions(resultat_lenet, "LeNet-5")
for vrai, predit, nombre in confusions_principales(resultat_lenet):
    print(f"{vrai} pris pour {predit} : {nombre} fois")

# %% [markdown]
# **À vous de compléter : comparer les deux réseaux.**

# %%
# Trié par exactitude de validation (c'est elle qui choisit) ; le test, à côté, sert à rendre compte.
reseaux = [("MLP", mlp, resultat_mlp, secondes_mlp, EPOCHS_MLP),
           ("LeNet-5", lenet, resultat_lenet, secondes_lenet, EPOCHS_LENET)]
validation = {nom: evaluate(modele, data.valid).accuracy for nom, modele, *_ in reseaux}
print(f"{'réseau':<9} {'paramètres':>10} {'validation':>11} {'test':>8} {'erreurs':>8} {'époques':>8} {'secondes':>9}")
for nom, modele, resultat, secondes, epoques in sorted(reseaux, key=lambda r: -validation[r[0]]):
    erreurs = round((1 - resultat.accuracy) * len(data.test))
    print(f"{nom:<9} {nb_fr(count_parameters(modele)):>10} {pct_fr(validation[nom]):>11} {pct_fr(resultat.accuracy):>8} "
          f"{erreurs:>8} {epoques:>8} {nb_fr(secondes, 1):>9}")

# %% [markdown]
# **Réponse.** Avec 40 % de paramètres en moins, LeNet-5 fait deux à trois fois moins d'erreurs que le
# MLP (voir le tableau imprimé ci-dessus). Ce n'est pas la taille qui compte mais ce que l'architecture sait
# d'avance des images :
#
# - **localité** : un neurone de C1 ne regarde qu'un carré de 5×5 pixels, là où un neurone du MLP a un
#   poids pour chacun des 784 pixels ;
# - **partage des poids** : le même noyau est appliqué à toutes les positions ; un trait détecté en haut à
#   gauche l'est aussi en bas à droite, et chaque poids sert des centaines de fois (d'où un calcul plus
#   lourd pour moins de paramètres, voir l'exploration) ;
# - **sous-échantillonnage** : S2 et S4 rendent la réponse peu sensible à un décalage d'un ou deux pixels.
#
# En contrepartie, une époque de LeNet-5 coûte plus cher qu'une époque du MLP.

# %% [markdown]
# ## 6. Exploration
#
# Que contiennent les réseaux entraînés ? Les fonctions de `lenetlab.explore` répondent sur les modèles
# en mémoire (la ligne de commande `lenetlab explore ...` fait de même sur un dossier de run).
#
# ### 6.1 Paramètres et calcul, couche par couche
#
# MACs : multiplications-additions par image (une par utilisation d'un poids).

# %%
from lenetlab.explore.figures import params_figure
from lenetlab.explore.params import format_table, params_report

rapport = params_report({"LeNet-5": lenet, "MLP": mlp})
for nom, table in rapport.items():
    print(format_table(nom, table), end="\n\n")
montrer(params_figure(rapport))

# %% [markdown]
# Le MLP a plus de paramètres mais LeNet-5 fait environ **4 fois plus de calcul** par image : chaque poids
# de C1 est utilisé 28 × 28 = 784 fois (une fois par position), chaque poids de C3 100 fois. Le partage des
# poids échange des paramètres contre du calcul.
#
# ### 6.2 Les filtres appris et les filtres classiques
#
# Les 6 noyaux 5×5 de C1, comparés à une banque de filtres classiques du traitement d'images (Sobel,
# Prewitt, laplacien de gaussienne, gaussienne, Gabor à 8 orientations). La similarité est le cosinus entre
# les deux noyaux vus comme des vecteurs de 25 nombres, en valeur absolue (un noyau et son opposé
# détectent le même bord) : 1 = identiques à l'échelle et au signe près.

# %%
from lenetlab.explore.figures import filters_figure, kernel_grid_figure
from lenetlab.explore.filters import best_matches, classic_filters, conv_weights

banque = classic_filters(5)
noyaux_c1 = conv_weights(lenet, "C1")[:, 0]  # (6, 5, 5)
correspondances = best_matches(noyaux_c1, banque)
for i, m in enumerate(correspondances):
    print(f"noyau {i} : le plus proche est {m['best']:<16} cosinus {nb_fr(m['similarity'], 2)}")
appris = float(np.mean([m["similarity"] for m in correspondances]))

# Le point de comparaison honnête : des noyaux au hasard trouvent aussi un filtre assez proche dans une
# banque de 22 filtres. On le mesure sur 50 initialisations de LeNet-5 non entraînées.
hasard = [np.mean([m["similarity"] for m in best_matches(conv_weights(LeNet5(), "C1")[:, 0], banque)])
          for _ in range(50)]
print(f"cosinus moyen du meilleur filtre classique : noyaux appris {nb_fr(appris, 2)}, "
      f"noyaux au hasard {nb_fr(np.mean(hasard), 2)} ± {nb_fr(np.std(hasard), 2)}")
montrer(filters_figure(noyaux_c1, correspondances, banque, "C1 de LeNet-5 : 6 noyaux appris 5x5"))

# %% [markdown]
# Comparez les deux moyennes avant de conclure : c'est l'écart avec les noyaux au hasard qui dit si
# l'entraînement a rapproché les noyaux des filtres de bords et de barres (Sobel, Gabor). Les noyaux de C3
# (16 cartes × 6 entrées) se lisent moins bien : ils combinent les cartes de C1, pas des pixels.

# %%
montrer(kernel_grid_figure(conv_weights(lenet, "C3"), "C3 : 16 cartes x 6 entrées, noyaux 5x5", "C3", "S2"))

# %% [markdown]
# ### 6.3 Cartes de caractéristiques
#
# Ce que chaque couche fait d'une image de test : les cartes de C1 (bords dans différentes directions),
# réduites par S2, combinées par C3, puis les vecteurs de C5 (120 valeurs) et F6 (84 valeurs).

# %%
from lenetlab.explore.feature_maps import layer_activations
from lenetlab.explore.figures import feature_maps_figure

lenet.eval()
indice = 0
image = data.test.as_float(indice, indice + 1)[0, 0].numpy()
cartes = layer_activations(lenet, image)
probas = torch.softmax(torch.as_tensor(cartes.pop("output")), 0)
legende = (f"image de test {indice} (étiquette {data.class_names[int(data.test.labels[indice])]}) : "
           f"prédit {data.class_names[int(probas.argmax())]} à {100 * float(probas.max()):.1f} %")
print({nom: v.shape for nom, v in cartes.items()})
montrer(feature_maps_figure(image, cartes, legende))

# %% [markdown]
# ### 6.4 Les représentations apprises : ACP et t-SNE
#
# Chaque réseau transforme l'image en un vecteur avant la décision : la couche cachée H1 du MLP (120
# valeurs), C5 (120) et F6 (84) pour LeNet-5. Sont-ils mieux rangés par classe que les pixels bruts ? Deux
# mesures, calculées **dans l'espace d'origine** de chaque représentation (pas dans le dessin en 2-d) :
#
# - l'exactitude d'un **k plus proches voisins** (k = 5, validation croisée à 5 plis) : les voisins d'une
#   image sont-ils de sa classe ?
# - le **score de silhouette** des vraies classes (de -1 à 1) : les classes forment-elles des paquets
#   compacts et séparés ?
#
# Puis deux projections en 2-d pour voir : l'ACP (linéaire) et t-SNE (qui préserve les voisinages), sur
# les `TSNE_POINTS` premières images du tirage ; les scores des titres sont ceux des `EMBED_POINTS` images.

# %%
from lenetlab.explore.embeddings import project, representations, separation_scores
from lenetlab.explore.figures import embeddings_figure

mlp.eval()
n_points = min(EMBED_POINTS, len(data.test))
tirage = torch.randperm(len(data.test), generator=torch.Generator().manual_seed(SEED))[:n_points]
etiquettes = data.test.labels[tirage].numpy()
reps = representations(lenet, mlp, data.test.as_float()[tirage])
scores = {nom: separation_scores(x, etiquettes, seed=SEED) for nom, x in reps.items()}
print(f"{n_points} images de test")
for nom, s in scores.items():
    print(f"{nom:<9} {s['dimensions']:>4} dimensions  5-NN {pct_fr(s['knn_accuracy']):>8}  "
          f"silhouette {nb_fr(s['silhouette'], 3)}")

# %%
acp = {nom: project(x, "pca", SEED) for nom, x in reps.items()}
montrer(embeddings_figure(acp, etiquettes, scores, "pca", data.class_names))

# %%
n_tsne = min(TSNE_POINTS, n_points)
t0 = time.perf_counter()
tsne = {nom: project(x[:n_tsne], "tsne", SEED) for nom, x in reps.items()}
print(f"t-SNE de {n_tsne} images, {len(reps)} représentations : {time.perf_counter() - t0:.1f} s")
montrer(embeddings_figure(tsne, etiquettes[:n_tsne], scores, "tsne", data.class_names))

# %% [markdown]
# **Lecture.** Les pixels bruts sont déjà assez bien rangés pour un k-NN (MNIST est un jeu facile), mais les
# classes se chevauchent (silhouette proche de 0). Chaque réseau, entraîné à séparer les classes, les
# resserre : la silhouette monte un peu dans la couche cachée du MLP (H1) et nettement dans C5 et F6 de
# LeNet-5, F6 (la dernière couche avant la décision) en tête ; le k-NN suit le même ordre. t-SNE exagère
# les paquets — c'est sa nature —, d'où les scores calculés dans l'espace d'origine. (Les chiffres exacts
# dépendent de votre exécution : ils sont imprimés ci-dessus et dans le titre de chaque graphique.)

# %% [markdown]
# ### 6.5 Convolution ou couches entièrement connectées, à profondeur égale
#
# LeNet-5 fait mieux que le MLP avec moins de paramètres. Est-ce la **convolution**, ou seulement la
# **profondeur** (LeNet-5 a six couches, le MLP trois) ? Pour le savoir, on entraîne trois réseaux avec la
# même recette, sur les mêmes images :
#
# - LeNet-5 ;
# - un MLP d'à peu près autant de paramètres que LeNet-5 (deux couches cachées) ;
# - un réseau entièrement connecté **de la même profondeur** que LeNet-5 : chaque couche a autant de
#   neurones que la couche de LeNet-5 qu'elle remplace (S2 : 6 × 14 × 14 = 1 176, S4 : 16 × 5 × 5 = 400,
#   puis 120 et 84), mais chaque neurone voit toute la couche précédente et rien n'est partagé.
#
# Pour que cette partie reste rapide, chaque réseau voit les `EXPLORE_IMAGES` premières images
# d'entraînement pendant `EPOCHS_EXPLORE` époques. Les tableaux de cette partie sont **triés par exactitude
# de validation** : c'est elle qui sert à choisir un modèle. L'exactitude de test est affichée à côté, pour
# information ; choisir sur le test reviendrait à tricher sur la note finale.

# %%
def entrainer_variante(nom_modele, args=None, recette=RECETTE):
    """Entraîne un modèle sur les EXPLORE_IMAGES premières images ; son exactitude (validation, test)."""
    args = dict(args or {})
    sous_ensemble = dataclasses.replace(
        data, train=ImageSet(data.train.images[:EXPLORE_IMAGES], data.train.labels[:EXPLORE_IMAGES]))
    config = TrainConfig.from_preset(recette, model=nom_modele, model_args=args, epochs=EPOCHS_EXPLORE, seed=SEED)
    torch.manual_seed(SEED)
    modele = build_model(nom_modele, **args)
    t0 = time.perf_counter()
    fit(modele, sous_ensemble, config, progress=False, log=None)
    return {"modèle": modele, "paramètres": count_parameters(modele), "secondes": time.perf_counter() - t0,
            "validation": evaluate(modele, data.valid).accuracy, "test": evaluate(modele, data.test).accuracy}


def tableau_trie(resultats):
    """Les résultats triés par exactitude de validation (la meilleure en haut), le test à côté."""
    largeur = max(len(nom) for nom in resultats)
    print(f"{'réseau':<{largeur}} {'paramètres':>11} {'validation':>11} {'test':>9} {'secondes':>9}")
    for nom, r in sorted(resultats.items(), key=lambda item: -item[1]["validation"]):
        print(f"{nom:<{largeur}} {nb_fr(r['paramètres']):>11} {pct_fr(r['validation']):>11} {pct_fr(r['test']):>9} "
              f"{nb_fr(r['secondes'], 1):>9}")


noms_comparaison = {"lenet5": "LeNet-5", "mlp-same-params": "MLP, même taille",
                    "fc-same-depth": "entièrement connecté, même profondeur"}
comparaison = {noms_comparaison[v.name]: entrainer_variante(v.model, v.model_args) for v, _ in compare_variants()}
tableau_trie(comparaison)

# %% [markdown]
# **Lecture.** Le réseau entièrement connecté de même profondeur a environ **24 fois plus de paramètres**
# que LeNet-5 (1 453 094 contre 61 706) : la profondeur seule ne suffit pas à expliquer l'avantage de
# LeNet-5, puisqu'à profondeur égale, sans partage des poids, il faut bien plus de paramètres pour un
# résultat qui n'est pas meilleur. Ce que la convolution apporte, c'est un **a priori** sur les images :
# des détecteurs locaux, appliqués partout. (Les exactitudes exactes dépendent de votre exécution et du
# nombre d'époques ; avec toutes les images et 10 époques, `lenetlab explore compare` donne les nombres
# de `docs/explore.md`.)
#
# ### 6.6 Pas (*stride*), marge (*padding*) et taille des noyaux
#
# Chaque couche de convolution de `LeNet5` a ses réglages : `kernel_size`, `stride` et `padding` pour C1
# (`kernel_size` vaut aussi pour C3), `c3_kernel`, `c3_stride`, `c3_padding` pour C3. Par défaut, le noyau de
# C5 **suit** la taille de ce qui lui arrive : C5 reste « entièrement connectée à S4 », comme dans
# l'article, et sa sortie fait 1 × 1. Les huit combinaisons de `stride` ∈ {1, 2}, `padding` ∈ {0, 2} et
# `kernel_size` ∈ {3, 5} sont donc toutes valides. Les tailles d'abord, puis l'entraînement :

# %%
grille = [{"stride": s, "padding": p, "kernel_size": k} for s in (1, 2) for p in (0, 2) for k in (3, 5)]
for args in grille:
    couches_variante = LeNet5(**args).activations(torch.zeros(1, 1, 28, 28))
    tailles = " → ".join(f"{nom} {sortie.shape[-1]}×{sortie.shape[-1]}" for nom, sortie in couches_variante.items()
                         if sortie.dim() == 4)
    print(f"stride {args['stride']}, padding {args['padding']}, noyau {args['kernel_size']} : {tailles} ; "
          f"{nb_fr(count_parameters(LeNet5(**args)))} paramètres")

# %%
etude = {f"stride {a['stride']}, padding {a['padding']}, noyau {a['kernel_size']}": entrainer_variante("lenet5", a)
         for a in grille}
tableau_trie(etude)

# %%
fig = Figure(figsize=(7, 3.6), layout="constrained")
ax = fig.subplots()
ordre = sorted(etude, key=lambda nom: etude[nom]["validation"])
ax.barh(range(len(ordre)), [100 * etude[nom]["validation"] for nom in ordre], color="#0969da", label="validation")
ax.plot([100 * etude[nom]["test"] for nom in ordre], range(len(ordre)), "o", mfc="none", color="#bf8700",
        label="test (pour information)")
ax.set_yticks(range(len(ordre)), [f"{nom} ({nb_fr(etude[nom]['paramètres'])} param.)" for nom in ordre], fontsize=7)
ax.set_xlim(min(100 * min(r["validation"], r["test"]) for r in etude.values()) - 2, 100)
ax.set_xlabel("exactitude (%)")
ax.set_title(f"Stride, padding, noyau : {EPOCHS_EXPLORE} époque(s), {nb_fr(EXPLORE_IMAGES)} images", fontsize=9)
ax.legend(fontsize=7, loc="lower right")
montrer(fig)

# %% [markdown]
# **Lecture.** Un `stride` de 2 dans C1 divise la taille de toutes les cartes suivantes par deux : 4 fois
# moins de calcul dans C3 et bien moins de paramètres dans C5, au prix d'une image vue plus grossièrement.
# Un `padding` de 2 garde les bords de l'image (les chiffres de MNIST en sont loin, d'où un effet faible).
# Des noyaux 3×3 donnent ici **plus** de paramètres que des 5×5 : S4 est alors plus grande (6×6 au lieu de
# 5×5), et C5, qui la couvre entière, prend des noyaux 6×6 : 120 × 16 × 36 = 69 120 poids au lieu de
# 48 000. La ligne de commande fait la même étude sur toutes les images, avec reprise après interruption :
# `lenetlab explore sweep --vary stride=1,2 --vary padding=0,2 --vary kernel_size=3,5`.
#
# ### 6.7 Le LeNet-5 de l'article (1998) et celui du TD
#
# Le LeNet-5 du TD simplifie celui de LeCun, Bottou, Bengio et Haffner (1998). `lenetlab` fournit aussi
# celui de l'article, `lenet5-1998`, fidèle à ses sections II.B et à ses annexes A et C :
#
# - l'image 28×28 est centrée dans un champ 32×32, fond -0,1 et encre 1,175 (moyenne ≈ 0, variance ≈ 1) ;
# - S2 et S4 **additionnent** leurs quatre entrées, multiplient par un coefficient entraînable et ajoutent un
#   biais, par carte, puis appliquent la fonction d'activation ;
# - C3 ne relie chaque carte qu'à 3, 4 ou 6 des cartes de S2 (table I de l'article) : 1 516 paramètres ;
# - la fonction d'activation est f(a) = 1,7159 tanh(2a/3), choisie pour que f(±1) = ±1 ;
# - la sortie est faite de 10 unités RBF : y_i = Σ_j (x_j − w_ij)², où chaque w_i est un dessin 7×12 fixé
#   à la main (+1 pour l'encre, −1 pour le fond) ; la classe prédite est celle dont le dessin est le plus
#   proche de la sortie de F6, et la perte est le critère MAP de l'équation (9) ;
# - les poids partent d'une loi uniforme sur ±2,4 / F_in (F_in : le nombre d'entrées du neurone) ;
# - l'optimiseur est le Levenberg-Marquardt diagonal stochastique (SDLM), un pas par poids réglé par une
#   estimation de la dérivée seconde.
#
# Total : **60 000 paramètres entraînables**. Voici les dessins de la couche de sortie, puis les deux
# réseaux entraînés dans les mêmes conditions (le LeNet-5 de 1998 avec la recette de l'article, `paper`).
# Ici `fit` garde les images de validation à part ; `lenetlab train --preset paper` entraîne, comme
# l'article, sur les 60 000 images et garde la dernière passe.

# %%
lenet_1998 = LeNet5_1998()
for nom, etage in lenet_1998.stages():
    if nom != "flatten":
        print(f"{nom:>6} : {nb_fr(count_parameters(etage)):>6} paramètres")
print(f"LeNet-5 (1998) : {nb_fr(count_parameters(lenet_1998))} paramètres")
assert count_parameters(lenet_1998) == 60_000

fig = Figure(figsize=(7, 1.6), layout="constrained")
for chiffre, ax in enumerate(fig.subplots(1, 10)):
    ax.imshow(prototype_bitmaps()[chiffre], cmap="gray_r", vmin=-1, vmax=1)
    ax.set_title(str(chiffre), fontsize=8)
    ax.axis("off")
montrer(fig)

# %%
recettes = {"LeNet-5 du TD (recette du projet)": ("lenet5", RECETTE), "LeNet-5 de 1998 (recette de l'article)":
            ("lenet5-1998", "paper")}
article = {nom: entrainer_variante(modele, recette=recette) for nom, (modele, recette) in recettes.items()}
tableau_trie(article)

# %% [markdown]
# **Lecture.** Sur ce petit entraînement, comparez les deux lignes ; sur toutes les images et 20 passes,
# `lenetlab paper --models lenet5-1998 --epochs 20 --ablation` entraîne le réseau de l'article avec sa
# recette, puis l'**ablation** : chaque choix de 1998 remplacé, un à la fois, par son équivalent moderne
# (C3 complète, tanh simple, *pooling* moyen, sortie linéaire avec entropie croisée, SGD avec moment). Les
# nombres mesurés, et ce en quoi notre SDLM s'écarte de celui de l'article, sont dans le README.
#
# ### 6.8 Pour aller plus loin
#
# La ligne de commande entraîne et compare sur un dossier de runs (avec reprise après interruption) :
#
# - `lenetlab explore sweep --vary activation=tanh,relu --vary pooling=avg,max` (une grille de variantes) ;
# - `lenetlab explore compare` (la comparaison de 6.5 sur toutes les images) ;
# - `lenetlab paper` (le tableau de l'article de 1998, reproduit, avec `lenet5-1998`).

# %% [markdown]
# ## Bilan
#
# Les nombres de cette exécution, sur une ligne (les tests du dépôt la lisent) :

# %%
bilan = {
    "parametres": {"MLP": count_parameters(mlp), "LeNet-5": count_parameters(lenet)},
    "exactitude_test": {"MLP": round(resultat_mlp.accuracy, 4), "LeNet-5": round(resultat_lenet.accuracy, 4)},
    "epoques": {"MLP": EPOCHS_MLP, "LeNet-5": EPOCHS_LENET},
    "secondes": {"MLP": round(secondes_mlp, 1), "LeNet-5": round(secondes_lenet, 1)},
    "recette": RECETTE,
    "perte_validation_epoque_manuelle": {"corrigee": round(corrigee, 6), "lenetlab": round(reference, 6),
                                         "du_td": round(du_td, 6)},
    "filtres_c1_cosinus": {"appris": round(appris, 3), "hasard": round(float(np.mean(hasard)), 3)},
    "knn": {nom: s["knn_accuracy"] for nom, s in scores.items()},
    "silhouette": {nom: s["silhouette"] for nom, s in scores.items()},
    "exploration": {nom: {"parametres": r["paramètres"], "validation": round(r["validation"], 4),
                          "test": round(r["test"], 4)} for nom, r in {**comparaison, **etude, **article}.items()},
}
print("BILAN " + json.dumps(bilan, ensure_ascii=False))
