"""How the MLP's hidden layer and LeNet-5's C5 / F6 arrange the test digits, in pictures and in numbers.

Pictures: PCA and t-SNE to 2-d, coloured by class. Numbers, so the comparison is not only visual,
computed in each representation's own space (not in 2-d): the 5-nearest-neighbour accuracy
(5-fold cross-validated) and the silhouette score of the true classes (Euclidean).
Needs scikit-learn (``pip install scikit-learn``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import plots
from .._fs import write_json
from ..data import load_mnist
from ..errors import LenetlabError
from ..evaluation import recorded_data_dir
from ..i18n import number, percent, t
from ._common import load_run_model, output_dir
from .figures import embeddings_figure

METHODS = ("pca", "tsne", "both")


def _sklearn() -> Any:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise LenetlabError("explore embeddings needs scikit-learn; install it with `pip install scikit-learn`") from None


def separation_scores(x: np.ndarray, labels: np.ndarray, k: int = 5, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """k-NN accuracy (k=5, stratified 5-fold cross-validation) and silhouette score of the classes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 0.1, (50, 3)), rng.normal(10, 0.1, (50, 3))])
    >>> scores = separation_scores(x, np.repeat([0, 1], 50))
    >>> scores["knn_accuracy"], scores["silhouette"] > 0.9
    (1.0, True)
    """
    _sklearn()
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    x = np.asarray(x, np.float32).reshape(len(x), -1)
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    smallest = int(counts.min()) if labels.size else 0
    folds = min(folds, smallest)  # stratified folds need each class in every fold
    if folds < 2 or len(classes) < 2:
        raise LenetlabError("need at least 2 images of each of 2 classes to score an embedding; use a larger --n")
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    knn = cross_val_score(KNeighborsClassifier(n_neighbors=k), x, labels, cv=cv)
    return {"knn_accuracy": round(float(knn.mean()), 6), "knn_accuracy_std": round(float(knn.std()), 6),
            "silhouette": round(float(silhouette_score(x, labels)), 6), "dimensions": int(x.shape[1])}


def project(x: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """2-d projection by PCA or t-SNE (t-SNE on the first 50 principal components, the usual speed-up)."""
    _sklearn()
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(x, np.float32).reshape(len(x), -1)
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(x)
    if x.shape[1] > 50:
        x = PCA(50, random_state=seed).fit_transform(x)
    return TSNE(2, init="pca", perplexity=min(30.0, (len(x) - 1) / 3), random_state=seed).fit_transform(x)


def representations(lenet: torch.nn.Module, mlp: torch.nn.Module, images: torch.Tensor) -> dict[str, np.ndarray]:
    """Raw pixels, the MLP's first hidden layer, LeNet-5's C5 output and F6, for float images (N, 1, 28, 28)."""
    with torch.no_grad():
        conv = lenet.activations(images)
        dense = mlp.activations(images)
    if "H1" not in dense:
        raise LenetlabError("RUN_MLP has no hidden layer H1; pass an mlp or fcnet run as the second run")
    reps = {"pixels": images.reshape(len(images), -1).numpy()}
    reps["MLP H1"] = dense["H1"].reshape(len(images), -1).numpy()
    for name in ("C5", "F6"):
        if name in conv:
            reps[f"LeNet {name}"] = conv[name].reshape(len(images), -1).numpy()
    if len(reps) == 2:
        raise LenetlabError("RUN_LENET has no C5 or F6 layer; pass a lenet5 (or lenet5-modern) run first")
    return reps


def explore_embeddings(
    run_lenet: str | Path,
    run_mlp: str | Path,
    out: str | Path | None = None,
    *,
    method: str = "both",
    n: int = 5000,
    seed: int = 0,
    data_dir: str | None = None,
    log: Any = print,
    lang: str = "en",
) -> dict[str, Any]:
    """Scores and 2-d scatter plots of each representation of ``n`` test images (a seeded sample).

    Writes into ``out`` (default ``RUN_LENET/explore``) ``embeddings_pca.png`` and/or
    ``embeddings_tsne.png`` and ``embeddings.json``.

    Examples
    --------
    >>> result = explore_embeddings("runs/lenet5", "runs/mlp", method="pca", n=2000, log=None)
    >>> result["scores"]["LeNet C5"]["knn_accuracy"] > result["scores"]["pixels"]["knn_accuracy"]
    True
    """
    if method not in METHODS:
        raise LenetlabError(f"unknown --method {method!r}; choose pca, tsne or both")
    if n < 20:
        raise LenetlabError(f"--n {n} is too few images to score an embedding; use at least 20")
    _sklearn()
    lenet, lenet_ckpt = load_run_model(run_lenet)
    mlp, mlp_ckpt = load_run_model(run_mlp)
    test = load_mnist(data_dir if data_dir is not None else recorded_data_dir(run_lenet)).test
    n = min(n, len(test))
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]
    images = test.as_float()[order]
    labels = test.labels[order].numpy()
    reps = representations(lenet, mlp, images)
    folder = output_dir(run_lenet, out)
    scores = {}
    for name, x in reps.items():
        scores[name] = separation_scores(x, labels, seed=seed)
        if log:
            s = scores[name]
            log(t(lang, "explore.embedding_line", name=f"{name:<9}", dims=f"{s['dimensions']:>4}",
                  knn=percent(s["knn_accuracy"], lang, 2).rjust(8), silhouette=number(s["silhouette"], lang, 3, sign=True)))
    names = lenet_ckpt.get("class_names") or [str(i) for i in range(10)]
    files = []
    for m in (("pca", "tsne") if method == "both" else (method,)):
        points = {name: project(x, m, seed) for name, x in reps.items()}
        files.append(plots.save(embeddings_figure(points, labels, scores, m, names, lang), folder / f"embeddings_{m}.png"))
    result = {"lenet_run": str(run_lenet), "mlp_run": str(run_mlp), "lenet_model": lenet_ckpt["model"],
              "mlp_model": mlp_ckpt["model"], "n": n, "seed": seed, "method": method, "scores": scores,
              "note": "k-NN accuracy (k=5, stratified 5-fold CV) and silhouette in each representation's own space"}
    files.append(write_json(folder / "embeddings.json", result))
    result["files"] = [str(f) for f in files]
    return result
