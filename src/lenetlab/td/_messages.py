"""What the TD's checks say and how: one message table per language (same keys, side by side), the verdict.

A check's verdict is a :class:`CheckResult`; :func:`verdict` runs a check quietly, prints its one line,
records it in :data:`results` and in ``LENETLAB_TD_LOG``; :func:`call` runs the student's code and turns
any exception into the hint for it.

The French table is written with plain spaces; :func:`tr` puts the narrow no-break space (U+202F)
where French typography wants one (before ``: ; ? !``, inside « »). Numbers are formatted by the
caller with :func:`num` (``61 706``, ``0,25``), so every placeholder arrives as text.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import json
import numbers
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..i18n import NARROW_NBSP, number, percent

LANGS = ("fr", "en")
_state = {"lang": "fr"}

FORMULA = "⌊(n + 2p − k)/s⌋ + 1"

FR: dict[str, str] = {
    "ok": "Bravo : {text}",
    "not_written": "Le code de `{name}` n'est pas encore écrit : complétez la cellule au-dessus (cherchez « À vous de compléter »).",
    "returns_none": "`{name}` renvoie None : soit elle n'est pas encore écrite (cherchez « À vous de compléter »), soit il manque le `return` à la fin.",
    "crashed": "`{name}` s'arrête sur l'erreur « {error} » : pour voir la ligne en cause, appelez `{name}` vous-même dans une cellule.",
    "signature": "`{name}` n'a pas la signature attendue : le cours l'écrit `{expected}`.",
    "not_callable": "Passez à la vérification l'objet `{name}` lui-même (la fonction ou la classe, sans l'appeler), pas {got}.",
    "internal": "La vérification n'a pas pu aller au bout ({error}) : signalez-le à votre enseignant.",
    "device": "Votre code mélange des tenseurs sur deux appareils (CPU et GPU) : envoyez les données là où est le modèle, avec `device = next(model.parameters()).device` puis `data.to(device)`.",
    "np_inf": "`np.Inf` n'existe plus depuis NumPy 2 : écrivez `valid_loss_min = float(\"inf\")` (ou `np.inf`, en minuscules).",
    "not_a_number": "`{name}` renvoie {got} : il faut un nombre (un `float`).",
    "tensor_not_float": "`{name}` renvoie un tenseur PyTorch au lieu d'un nombre : utilisez `loss.item()` pour additionner des nombres Python.",
    # modèles
    "super_init": "Votre classe `{name}` crée des couches avant d'appeler `super().__init__()` : mettez cet appel en première ligne de `__init__`.",
    "no_args": "`{name}()` doit pouvoir être créé sans argument : son `__init__` ne prend que `self`.",
    "not_module": "`{name}()` doit être un réseau PyTorch : écrivez `class {name}(nn.Module):`.",
    "pass_instance": "Passez votre modèle entraîné (l'objet, par exemple `model`), pas la classe `{name}`.",
    "not_tensor": "Le `forward` de votre `{name}` renvoie {got} au lieu d'un tenseur.",
    "out_shape": "Votre `{name}` transforme un lot {input} en une sortie {shape} : il faut {expected}, dix scores (un par chiffre) pour chaque image.",
    "mlp_no_flatten": "Votre MLP reçoit les images (64, 1, 28, 28) sans les aplatir : commencez `forward` par `x = x.view(x.size(0), -1)` (ou une couche `nn.Flatten()`) pour obtenir des vecteurs de 784 pixels.",
    "lenet_no_flatten": "Les cartes de caractéristiques arrivent dans la couche linéaire sans être aplaties : ajoutez `nn.Flatten()` à la fin de `feature_extractor` (ou au début de `classifier`), ou `x = x.view(x.size(0), -1)` dans `forward`.",
    "mismatch": "Deux couches de votre `{name}` ne s'enchaînent pas : une couche linéaire attend {expected} entrées mais en reçoit {got} ; le nombre de sorties d'une couche est le nombre d'entrées de la suivante.",
    "softmax": "Votre `{name}` se termine par un softmax (chaque ligne de la sortie fait 1 au total) : `nn.CrossEntropyLoss` applique déjà le softmax, le réseau doit renvoyer les scores bruts (logits) ; retirez le softmax final.",
    "in_0_1": "Les sorties de votre `{name}` sont toutes entre 0 et 1 : une activation (sigmoïde…) s'applique après la dernière couche ; retirez-la, `nn.CrossEntropyLoss` attend des scores bruts (logits).",
    "relu_last": "Les sorties de votre `{name}` ne sont jamais négatives : un ReLU s'applique après la dernière couche ; retirez-le, les scores (logits) doivent pouvoir être négatifs.",
    "linear_only": "Votre MLP est linéaire : sans activation entre les couches, trois couches linéaires n'en valent qu'une ; ajoutez `nn.ReLU()` (ou `F.relu`) après chacune des deux couches cachées.",
    "mlp_relu": "Le MLP du cours utilise ReLU entre les couches, pas {got} : remplacez cette activation par `nn.ReLU()`.",
    "count": "Votre `{name}` compte {count} paramètres au lieu de {expected} : {detail}",
    "count_layer": "sa couche linéaire n° {i} est `{got}`, le cours demande `{expected}`.",
    "count_layers": "il a {n} couches linéaires ({got}) au lieu de 3 : 784 → 120 → 84 → 10.",
    "count_bias": "ses couches ont les bonnes tailles ; manque-t-il les biais (`bias=False`) ?",
    "count_other": "comparez couche par couche avec `td.check_parameter_count`.",
    "mlp_ok": "votre MLP donne une sortie {shape} et compte {count} paramètres.",
    "no_attr": "Votre `LeNet5` n'a pas d'attribut `self.{attr}` : nommez les deux blocs comme le cours, `self.feature_extractor = nn.Sequential(...)` et `self.classifier = nn.Sequential(...)`.",
    "layer_differs": "La couche `{where}` est `{got}`, alors qu'à cette place le cours attend `{expected}` (ordre : {order}).",
    "layer_missing": "Il manque des couches à `{block}` : après {last}, le cours attend `{expected}` (ordre : {order}).",
    "layer_extra": "`{block}` a une couche de trop, `{got}` : le cours s'arrête à `{last}` (ordre : {order}).",
    "padding": "La première convolution n'a pas de remplissage : écrivez `nn.Conv2d(1, 6, 5, padding=2)`. LeNet-5 a été conçu pour des images 32×32 ; le remplissage de 2 ramène les images MNIST 28×28 à cette taille (sans lui, les cartes de caractéristiques finales font 4×4 au lieu de 5×5).",
    "fe_shape": "`feature_extractor` transforme un lot (8, 1, 28, 28) en {shape} au lieu de {expected} : vérifiez les noyaux, les pas et le remplissage de chaque couche.",
    "lenet_ok": "votre LeNet-5 suit l'architecture du cours ({order}) : un lot (8, 1, 28, 28) donne des cartes de caractéristiques {fe}, puis une sortie (8, 10) ; {count} paramètres.",
    # boucles d'entraînement et d'évaluation
    "train_loss": "perte d'entraînement",
    "valid_loss": "perte de validation",
    "unused_arg": "`{name}` n'utilise pas son argument `{arg}` : une variable globale du notebook le remplace-t-elle ? Utilisez le paramètre de la fonction.",
    "no_backward": "Les gradients ne sont jamais calculés : appelez `loss.backward()` pour chaque lot, avant `optimizer.step()`.",
    "no_step": "Les poids du modèle ne changent pas : appelez `optimizer.step()` après `loss.backward()` pour chaque lot.",
    "no_zero_grad": "Les gradients s'accumulent d'un lot à l'autre : appelez `optimizer.zero_grad()` au début de chaque lot, avant `loss.backward()`.",
    "zero_grad_late": "Les gradients sont remis à zéro entre `loss.backward()` et `optimizer.step()`, qui n'a alors rien à appliquer : l'ordre est `zero_grad()`, sorties, perte, `backward()`, `step()`.",
    "train_mode": "Le modèle n'est pas en mode entraînement : appelez `model.train()` au début de `{name}` (après une évaluation, il est resté en mode `eval`).",
    "train_no_grad": "L'entraînement est fait sous `torch.no_grad()` : sans gradients, impossible d'apprendre ; gardez `no_grad` pour l'évaluation.",
    "eval_backward": "Votre `evaluate` appelle `loss.backward()` : pendant l'évaluation, on ne calcule pas de gradient et on ne met pas les poids à jour.",
    "not_falling": "La {loss} ne baisse pas en {n} époques ({values}) : vérifiez l'ordre `zero_grad()`, sorties, perte, `backward()`, `step()` dans chaque lot.",
    "mean_overwritten": "Votre {loss} est environ {factor} fois trop petite : l'avez-vous écrasée (`{var} = ...`) au lieu de l'additionner (`{var} += ...`) sur tous les lots ?",
    "mean_not_divided": "Votre {loss} est environ {factor} fois trop grande : divisez la somme par le nombre d'images, `len(loader.dataset)`.",
    "mean_no_size": "Votre {loss} est environ {factor} fois trop petite : `loss.item()` est la moyenne sur le lot, multipliez-la par `data.size(0)` avant de l'additionner.",
    "mean_by_batches": "Votre {loss} est environ {factor} fois trop grande : divisez par le nombre d'images, `len(loader.dataset)`, pas par le nombre de lots.",
    "mean_sum_means": "Votre {loss} est environ {factor} fois trop grande : vous additionnez les pertes moyennes des lots sans diviser ; multipliez chacune par `data.size(0)`, puis divisez le total par `len(loader.dataset)`.",
    "mean_last": "Votre {loss} est celle du dernier lot seulement : additionnez `loss.item() * data.size(0)` sur tous les lots, puis divisez par `len(loader.dataset)`.",
    "mean_wrong": "Votre {loss} vaut {value} alors que la perte moyenne par image est {expected} : additionnez `loss.item() * data.size(0)` sur tous les lots, puis divisez par `len(loader.dataset)`.",
    "train_one_epoch_ok": "votre `train_one_epoch` met le modèle en mode entraînement, remet les gradients à zéro à chaque lot, met à jour les poids et renvoie la perte moyenne par image (de {first} à la 1re époque à {last} à la {n}e).",
    "eval_no_grad": "Votre `evaluate` calcule les sorties sans `torch.no_grad()` : PyTorch garde alors de quoi calculer des gradients, ce qui coûte mémoire et temps ; entourez la boucle de `with torch.no_grad():`.",
    "eval_mode": "Votre `evaluate` laisse le modèle en mode entraînement : appelez `model.eval()` avant la boucle (dropout et normalisation par lots se comportent autrement en évaluation).",
    "eval_weights": "Votre `evaluate` modifie les poids du modèle : pas d'`optimizer.step()` pendant l'évaluation.",
    "evaluate_ok": "votre `evaluate` renvoie la perte moyenne par image sur tous les lots ({value}), sous `torch.no_grad()`, en mode évaluation et sans toucher aux poids.",
    "train_not_pair": "`train` doit renvoyer deux listes, `return train_losses, valid_losses` ; elle renvoie {got}.",
    "train_length": "`{var}` a {got} valeur(s) pour {n} époques : ajoutez une valeur par époque (`{var}.append(...)`).",
    "not_finite": "`{var}` contient une valeur non finie ({value}) : l'entraînement a divergé ou une division par zéro s'est glissée.",
    "train_epoch_value": "À l'époque {epoch}, {text}",
    "no_checkpoint": "Aucun fichier n'a été enregistré : appelez `torch.save(model.state_dict(), checkpoint_path)` quand la perte de validation passe sous `valid_loss_min`, qui doit partir de `float(\"inf\")`.",
    "checkpoint_model": "Le fichier contient le modèle entier : enregistrez seulement ses poids, `torch.save(model.state_dict(), checkpoint_path)`.",
    "checkpoint_every": "Les poids enregistrés sont ceux de la dernière époque, pas ceux de la meilleure (époque {best}) : n'enregistrez que si `valid_loss < valid_loss_min`, puis mettez à jour `valid_loss_min = valid_loss`.",
    "checkpoint_wrong": "Les poids enregistrés ne sont pas ceux de l'époque où la perte de validation est la plus basse (époque {best}) : enregistrez `model.state_dict()` juste après l'évaluation, quand `valid_loss < valid_loss_min`.",
    "train_ok": "votre `train` renvoie une perte d'entraînement et une perte de validation par époque ({n} + {n} valeurs, cohérentes avec `evaluate`) et enregistre les poids de l'époque où la perte de validation est la plus basse.",
    # exactitude par classe
    "pca_length": "`per_class_accuracy` renvoie {got} valeurs : il en faut une par classe, {n}.",
    "pca_fraction": "Vos exactitudes sont des fractions (entre 0 et 1) : le cours les donne en pourcentage, multipliez par 100.",
    "pca_axis": "Vous divisez par le nombre d'images *prédites* dans chaque classe : l'exactitude d'une classe divise les bonnes réponses par le nombre d'images dont c'est la *vraie* classe (`target`).",
    "pca_wrong": "Pour la classe {label}, vous trouvez {got} au lieu de {expected} : comptez, pour chaque vraie classe, les images bien classées et le total, puis `100 * correct / total`.",
    "pca_bad_loader": "Le `loader` doit donner des couples (images, étiquettes), comme `for data, target in loader:` ; ici : {error}.",
    "pca_ok": "vos exactitudes par classe sont justes (sur {n} images : de {low} pour le chiffre {worst} à {high} pour le chiffre {best}).",
    # nombre de paramètres
    "count_answer_missing": "Vous n'avez pas encore écrit votre réponse : remplacez `{got}` par un nombre entier (cherchez « À vous de compléter »).",
    "count_not_int": "Votre réponse {got} n'est pas un nombre entier de paramètres.",
    "count_bias_missing": "Vous avez compté les poids mais oublié les biais ({bias} en tout, un par neurone ou par carte de sortie) : {name} compte {count} paramètres. Détail : {detail}.",
    "count_wrong": "{name} compte {count} paramètres, pas {got}. Détail : {detail}.",
    "count_ok": "{name} compte bien {count} paramètres.",
    # taille de sortie d'une convolution
    "conv_ok": "votre formule donne la bonne taille de sortie dans les {n} cas testés (par exemple {example}).",
    "conv_example": "28 → 28 avec un noyau 5, un pas 1 et un remplissage 2",
    "conv_float": "`conv_output_size({args})` renvoie {value}, un nombre à virgule : utilisez la division entière `//` (la formule est " + FORMULA + ").",
    "conv_no_plus_one": "`conv_output_size({args})` renvoie {value} au lieu de {expected} : il manque le « + 1 » de " + FORMULA + " (un noyau aussi grand que l'image donne une sortie de taille 1, pas 0).",
    "conv_no_padding": "`conv_output_size({args})` renvoie {value} au lieu de {expected} : le remplissage p est oublié ; il s'ajoute des deux côtés, d'où le 2p de " + FORMULA + ".",
    "conv_padding_once": "`conv_output_size({args})` renvoie {value} au lieu de {expected} : le remplissage s'ajoute des deux côtés de l'image, c'est 2p et non p.",
    "conv_no_stride": "`conv_output_size({args})` renvoie {value} au lieu de {expected} : le pas s est oublié ; divisez (n + 2p − k) par s avant d'ajouter 1.",
    "conv_rounding": "`conv_output_size({args})` renvoie {value} au lieu de {expected} : arrondissez vers le bas, avec la division entière `//`.",
    "conv_wrong": "`conv_output_size({args})` renvoie {value} au lieu de {expected} : relisez la formule " + FORMULA + " (n la taille de l'entrée, k celle du noyau, s le pas, p le remplissage).",
}

EN: dict[str, str] = {
    "ok": "Well done: {text}",
    "not_written": "`{name}` is not written yet: complete the cell above (look for “Your turn”).",
    "returns_none": "`{name}` returns None: either it is not written yet (look for “Your turn”) or the `return` at its end is missing.",
    "crashed": "`{name}` stops on the error “{error}”: to see the line at fault, call `{name}` yourself in a cell.",
    "signature": "`{name}` does not have the expected signature: the course writes it `{expected}`.",
    "not_callable": "Give the check the object `{name}` itself (the function or the class, without calling it), not {got}.",
    "internal": "The check could not finish ({error}): please tell your teacher.",
    "device": "Your code mixes tensors on two devices (CPU and GPU): send the data where the model is, with `device = next(model.parameters()).device` then `data.to(device)`.",
    "np_inf": "`np.Inf` no longer exists since NumPy 2: write `valid_loss_min = float(\"inf\")` (or `np.inf`, lower case).",
    "not_a_number": "`{name}` returns {got}: it must return a number (a `float`).",
    "tensor_not_float": "`{name}` returns a PyTorch tensor instead of a number: use `loss.item()` to add up Python numbers.",
    "super_init": "Your class `{name}` creates layers before calling `super().__init__()`: make that call the first line of `__init__`.",
    "no_args": "`{name}()` must be creatable without arguments: its `__init__` takes only `self`.",
    "not_module": "`{name}()` must be a PyTorch network: write `class {name}(nn.Module):`.",
    "pass_instance": "Give your trained model (the object, for example `model`), not the class `{name}`.",
    "not_tensor": "The `forward` of your `{name}` returns {got} instead of a tensor.",
    "out_shape": "Your `{name}` turns a batch {input} into an output {shape}: it must be {expected}, ten scores (one per digit) for each image.",
    "mlp_no_flatten": "Your MLP receives the (64, 1, 28, 28) images without flattening them: start `forward` with `x = x.view(x.size(0), -1)` (or an `nn.Flatten()` layer) to get vectors of 784 pixels.",
    "lenet_no_flatten": "The feature maps reach the linear layer without being flattened: add `nn.Flatten()` at the end of `feature_extractor` (or the start of `classifier`), or `x = x.view(x.size(0), -1)` in `forward`.",
    "mismatch": "Two layers of your `{name}` do not fit together: a linear layer expects {expected} inputs but receives {got}; the outputs of one layer are the inputs of the next.",
    "softmax": "Your `{name}` ends with a softmax (each row of the output adds up to 1): `nn.CrossEntropyLoss` already applies the softmax, the network must return raw scores (logits); remove the final softmax.",
    "in_0_1": "The outputs of your `{name}` all lie between 0 and 1: an activation (sigmoid…) follows the last layer; remove it, `nn.CrossEntropyLoss` expects raw scores (logits).",
    "relu_last": "The outputs of your `{name}` are never negative: a ReLU follows the last layer; remove it, the scores (logits) must be able to go negative.",
    "linear_only": "Your MLP is linear: without activations between the layers, three linear layers are worth one; add `nn.ReLU()` (or `F.relu`) after each of the two hidden layers.",
    "mlp_relu": "The course's MLP uses ReLU between the layers, not {got}: replace that activation with `nn.ReLU()`.",
    "count": "Your `{name}` has {count} parameters instead of {expected}: {detail}",
    "count_layer": "its linear layer no. {i} is `{got}`, the course asks for `{expected}`.",
    "count_layers": "it has {n} linear layers ({got}) instead of 3: 784 → 120 → 84 → 10.",
    "count_bias": "its layers have the right sizes; are the biases missing (`bias=False`)?",
    "count_other": "compare layer by layer with `td.check_parameter_count`.",
    "mlp_ok": "your MLP gives a {shape} output and has {count} parameters.",
    "no_attr": "Your `LeNet5` has no attribute `self.{attr}`: name the two blocks as the course does, `self.feature_extractor = nn.Sequential(...)` and `self.classifier = nn.Sequential(...)`.",
    "layer_differs": "Layer `{where}` is `{got}`, where the course expects `{expected}` (order: {order}).",
    "layer_missing": "`{block}` is missing layers: after {last}, the course expects `{expected}` (order: {order}).",
    "layer_extra": "`{block}` has one layer too many, `{got}`: the course stops at `{last}` (order: {order}).",
    "padding": "The first convolution has no padding: write `nn.Conv2d(1, 6, 5, padding=2)`. LeNet-5 was designed for 32×32 images; a padding of 2 brings MNIST's 28×28 images to that size (without it, the last feature maps are 4×4 instead of 5×5).",
    "fe_shape": "`feature_extractor` turns a (8, 1, 28, 28) batch into {shape} instead of {expected}: check the kernels, strides and padding of each layer.",
    "lenet_ok": "your LeNet-5 follows the course's architecture ({order}): a (8, 1, 28, 28) batch gives {fe} feature maps, then an (8, 10) output; {count} parameters.",
    "train_loss": "training loss",
    "valid_loss": "validation loss",
    "unused_arg": "`{name}` does not use its argument `{arg}`: does a global variable of the notebook stand in for it? Use the function's parameter.",
    "no_backward": "The gradients are never computed: call `loss.backward()` for each batch, before `optimizer.step()`.",
    "no_step": "The model's weights do not change: call `optimizer.step()` after `loss.backward()` for each batch.",
    "no_zero_grad": "The gradients accumulate from one batch to the next: call `optimizer.zero_grad()` at the start of each batch, before `loss.backward()`.",
    "zero_grad_late": "The gradients are zeroed between `loss.backward()` and `optimizer.step()`, which then has nothing to apply: the order is `zero_grad()`, outputs, loss, `backward()`, `step()`.",
    "train_mode": "The model is not in training mode: call `model.train()` at the start of `{name}` (after an evaluation it stayed in `eval` mode).",
    "train_no_grad": "Training runs under `torch.no_grad()`: without gradients nothing is learnt; keep `no_grad` for evaluation.",
    "eval_backward": "Your `evaluate` calls `loss.backward()`: evaluation computes no gradient and does not update the weights.",
    "not_falling": "The {loss} does not fall over {n} epochs ({values}): check the order `zero_grad()`, outputs, loss, `backward()`, `step()` in each batch.",
    "mean_overwritten": "Your {loss} is about {factor} times too small: did you overwrite it (`{var} = ...`) instead of adding it up (`{var} += ...`) over all the batches?",
    "mean_not_divided": "Your {loss} is about {factor} times too large: divide the sum by the number of images, `len(loader.dataset)`.",
    "mean_no_size": "Your {loss} is about {factor} times too small: `loss.item()` is the batch's mean, multiply it by `data.size(0)` before adding it up.",
    "mean_by_batches": "Your {loss} is about {factor} times too large: divide by the number of images, `len(loader.dataset)`, not by the number of batches.",
    "mean_sum_means": "Your {loss} is about {factor} times too large: you add up the batches' mean losses without dividing; multiply each by `data.size(0)`, then divide the total by `len(loader.dataset)`.",
    "mean_last": "Your {loss} is the last batch's only: add up `loss.item() * data.size(0)` over all the batches, then divide by `len(loader.dataset)`.",
    "mean_wrong": "Your {loss} is {value} while the mean loss per image is {expected}: add up `loss.item() * data.size(0)` over all the batches, then divide by `len(loader.dataset)`.",
    "train_one_epoch_ok": "your `train_one_epoch` puts the model in training mode, zeroes the gradients for each batch, updates the weights and returns the mean loss per image (from {first} in epoch 1 to {last} in epoch {n}).",
    "eval_no_grad": "Your `evaluate` computes the outputs without `torch.no_grad()`: PyTorch then keeps what it needs for gradients, which costs memory and time; wrap the loop in `with torch.no_grad():`.",
    "eval_mode": "Your `evaluate` leaves the model in training mode: call `model.eval()` before the loop (dropout and batch normalisation behave differently in evaluation).",
    "eval_weights": "Your `evaluate` changes the model's weights: no `optimizer.step()` during evaluation.",
    "evaluate_ok": "your `evaluate` returns the mean loss per image over all the batches ({value}), under `torch.no_grad()`, in evaluation mode and without touching the weights.",
    "train_not_pair": "`train` must return two lists, `return train_losses, valid_losses`; it returns {got}.",
    "train_length": "`{var}` has {got} value(s) for {n} epochs: append one value per epoch (`{var}.append(...)`).",
    "not_finite": "`{var}` holds a non-finite value ({value}): training diverged or a division by zero crept in.",
    "train_epoch_value": "In epoch {epoch}, {text}",
    "no_checkpoint": "No file was saved: call `torch.save(model.state_dict(), checkpoint_path)` when the validation loss falls below `valid_loss_min`, which must start at `float(\"inf\")`.",
    "checkpoint_model": "The file holds the whole model: save its weights only, `torch.save(model.state_dict(), checkpoint_path)`.",
    "checkpoint_every": "The saved weights are the last epoch's, not the best one's (epoch {best}): save only when `valid_loss < valid_loss_min`, then update `valid_loss_min = valid_loss`.",
    "checkpoint_wrong": "The saved weights are not those of the epoch with the lowest validation loss (epoch {best}): save `model.state_dict()` right after evaluating, when `valid_loss < valid_loss_min`.",
    "train_ok": "your `train` returns a training loss and a validation loss per epoch ({n} + {n} values, consistent with `evaluate`) and saves the weights of the epoch with the lowest validation loss.",
    "pca_length": "`per_class_accuracy` returns {got} values: it needs one per class, {n}.",
    "pca_fraction": "Your accuracies are fractions (between 0 and 1): the course gives them in percent, multiply by 100.",
    "pca_axis": "You divide by the number of images *predicted* in each class: a class's accuracy divides the right answers by the number of images whose *true* class (`target`) it is.",
    "pca_wrong": "For class {label} you find {got} instead of {expected}: for each true class, count the images classified right and the total, then `100 * correct / total`.",
    "pca_bad_loader": "The `loader` must give (images, labels) pairs, as in `for data, target in loader:`; here: {error}.",
    "pca_ok": "your per-class accuracies are right (on {n} images: from {low} for digit {worst} to {high} for digit {best}).",
    "count_answer_missing": "You have not written your answer yet: replace `{got}` with a whole number (look for “Your turn”).",
    "count_not_int": "Your answer {got} is not a whole number of parameters.",
    "count_bias_missing": "You counted the weights but forgot the biases ({bias} in all, one per output neuron or map): {name} has {count} parameters. Detail: {detail}.",
    "count_wrong": "{name} has {count} parameters, not {got}. Detail: {detail}.",
    "count_ok": "{name} does have {count} parameters.",
    "conv_ok": "your formula gives the right output size in the {n} cases tested (for example {example}).",
    "conv_example": "28 → 28 with a kernel of 5, a stride of 1 and a padding of 2",
    "conv_float": "`conv_output_size({args})` returns {value}, a decimal number: use the integer division `//` (the formula is " + FORMULA + ").",
    "conv_no_plus_one": "`conv_output_size({args})` returns {value} instead of {expected}: the “+ 1” of " + FORMULA + " is missing (a kernel as large as the image gives an output of size 1, not 0).",
    "conv_no_padding": "`conv_output_size({args})` returns {value} instead of {expected}: the padding p is forgotten; it is added on both sides, hence the 2p of " + FORMULA + ".",
    "conv_padding_once": "`conv_output_size({args})` returns {value} instead of {expected}: the padding is added on both sides of the image, so 2p, not p.",
    "conv_no_stride": "`conv_output_size({args})` returns {value} instead of {expected}: the stride s is forgotten; divide (n + 2p − k) by s before adding 1.",
    "conv_rounding": "`conv_output_size({args})` returns {value} instead of {expected}: round down, with the integer division `//`.",
    "conv_wrong": "`conv_output_size({args})` returns {value} instead of {expected}: go back to the formula " + FORMULA + " (n the input's size, k the kernel's, s the stride, p the padding).",
}

TABLES = {"fr": FR, "en": EN}
_FRENCH_SPACES = re.compile(r" ([:;?!»])|(«) ")


def set_language(lang: str) -> None:
    """Choose the language of the checks' messages, ``"fr"`` (the default) or ``"en"``.

    >>> set_language("en"); language()
    'en'
    >>> set_language("fr")
    """
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: choose 'fr' or 'en'")
    _state["lang"] = lang


def language() -> str:
    """The language the checks speak now."""
    return _state["lang"]


def _french(template: str) -> str:
    """Plain spaces before ``: ; ? ! »`` and after ``«`` become narrow no-break spaces (outside `code`)."""
    parts = template.split("`")
    parts[::2] = [_FRENCH_SPACES.sub(lambda m: f"{NARROW_NBSP}{m[1]}" if m[1] else f"{m[2]}{NARROW_NBSP}", p)
                  for p in parts[::2]]
    return "`".join(parts)


def tr(key: str, **values: object) -> str:
    """The message ``key`` in the current language, its placeholders filled.

    >>> tr("count_ok", name="LeNet-5", count=num(61706)) == "LeNet-5 compte bien 61\\u202f706 paramètres."
    True
    """
    template = TABLES[_state["lang"]][key]
    if _state["lang"] == "fr":
        template = _french(template)
    return template.format(**values)


def num(value: float, digits: int = 0) -> str:
    """A number in the current language (``61 706`` / ``61,706``; ``0,25`` / ``0.25``)."""
    return number(value, _state["lang"], digits)


def pct(value: float) -> str:
    """A percentage given in percent (``99.3`` -> ``99,3 %`` / ``99.3 %``)."""
    return percent(value / 100, _state["lang"], 1)


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: truthy when it passed; ``message`` is the line that was printed."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """Show nothing in a notebook: the check has already printed its message."""


results: list[CheckResult] = []
MISMATCH = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")


class Fail(Exception):
    """The check stops here; the exception's text is the message for the student."""


def short(exc: BaseException) -> str:
    """``TypeError: the first line of its message``, at most 200 characters."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:200].rstrip(": ")


def brief(obj: Any) -> str:
    """The ``repr`` of what the student gave, cut to 40 characters, as code."""
    text = repr(obj)
    return f"`{text if len(text) <= 40 else text[:37] + '...'}`"


def verdict(fn: Callable[..., str]) -> Callable[..., CheckResult]:
    """Run a check quietly (the student's prints and warnings hidden, torch's random state kept), print its verdict."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> CheckResult:
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(1)  # tiny tensors: one thread is fastest, and steady on a busy machine
            with (contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()),
                  warnings.catch_warnings(), torch.random.fork_rng(devices=[]), torch.enable_grad()):
                warnings.simplefilter("ignore")
                torch.manual_seed(0)
                passed, message = True, "✅ " + tr("ok", text=fn(*args, **kwargs))
        except Fail as fail:
            passed, message = False, f"❌ {fail}"
        except (Exception, SystemExit) as exc:  # a check never raises
            passed, message = False, "❌ " + tr("internal", error=short(exc))
        finally:
            torch.set_num_threads(threads)
        result = CheckResult(fn.__name__, passed, message)
        results.append(result)
        print(message)
        log = os.environ.get("LENETLAB_TD_LOG")
        if log:
            with contextlib.suppress(OSError), open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"check": result.name, "passed": passed, "message": message}, ensure_ascii=False) + "\n")
        return result

    wrapper.__signature__ = inspect.signature(fn).replace(return_annotation="CheckResult")  # type: ignore[attr-defined]
    return wrapper


def _explain(exc: BaseException, name: str) -> str:
    """The hint for an exception raised by the student's code."""
    text = str(exc)
    if isinstance(exc, AttributeError) and "Inf" in text:
        return tr("np_inf")
    if "before Module.__init__()" in text:
        return tr("super_init", name=name)
    if "same device" in text:
        return tr("device")
    if "does not require grad" in text:
        return tr("eval_backward" if name == "evaluate" else "train_no_grad")
    if m := MISMATCH.search(text):
        return tr("mismatch", name=name, expected=num(int(m[3])), got=num(int(m[2])))
    return tr("crashed", name=name, error=short(exc))


def call(name: str, fn: Callable[..., Any], *args: Any, explain: Callable[[Exception], str | None] | None = None) -> Any:
    """Call the student's code; an exception becomes the matching hint."""
    try:
        return fn(*args)
    except Fail:
        raise
    except NotImplementedError:
        raise Fail(tr("not_written", name=name)) from None
    except (Exception, SystemExit) as exc:
        raise Fail((explain(exc) if explain and isinstance(exc, Exception) else None) or _explain(exc, name)) from None


def student(fn: Any, name: str, expected: str, n_args: int) -> Callable[..., Any]:
    """The student's function, once it is known to exist and to take ``n_args`` arguments."""
    if fn is None or fn is Ellipsis:
        raise Fail(tr("not_written", name=name))
    if not callable(fn):
        raise Fail(tr("not_callable", name=name, got=brief(fn)))
    try:
        inspect.signature(fn).bind(*range(n_args))
    except TypeError:
        raise Fail(tr("signature", name=name, expected=expected)) from None
    except ValueError:
        pass
    return fn


def as_float(value: Any, name: str) -> float:
    """The number a student's function returned; None, a tensor or anything else gets its hint."""
    if value is None:
        raise Fail(tr("returns_none", name=name))
    if isinstance(value, torch.Tensor):
        raise Fail(tr("tensor_not_float", name=name))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Fail(tr("not_a_number", name=name, got=brief(value)))
    return float(value)
