"""The class pack: what a teacher copies to a USB stick for the TD (``lenetlab td --out DIR``).

For students, the énoncé (exercises with a check after each one) and a README saying how to open it;
with ``teacher=True`` also the corrigé, the printable worksheet, the teacher's guide and one trained
LeNet-5 as an offline page (``lenetlab export``) to show in class. Every file works with no network.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from .._fs import check_replaceable, ensure_folder, write_text
from ..config import TrainConfig
from ..errors import LenetlabError
from ..export import export_run
from ..i18n import check_lang
from ..report import finish_run
from ..runs import train_run
from .worksheet import build_worksheet

# file in the package -> name in the pack, per language
_STUDENT = {"fr": {"td_lenet5_enonce_fr.ipynb": "td_lenet5_enonce.ipynb"},
            "en": {"td_lenet5_enonce_en.ipynb": "td_lenet5_exercises.ipynb"}}
_TEACHER = {"fr": {"td_lenet5_corrige_fr.ipynb": "td_lenet5_corrige.ipynb"},
            "en": {"td_lenet5_corrige_en.ipynb": "td_lenet5_answers.ipynb"}}
WORKSHEET = {"fr": "fiche_td.html", "en": "worksheet.html"}
GUIDE = "guide_enseignant.md"  # in French: the course is French (docs/enseignant.md)
PAGE = "lenet5_page.html"
PAGE_EPOCHS = 10  # the shown network: 10 epochs of the default recipe, about 99 % on the test set

_README = {
    "fr": """TD : Implémentation d'un réseau convolutif (LeNet-5)
=====================================================

Ouvrir l'énoncé (sans réseau, lenetlab installé) :

    jupyter notebook {student}

Chaque exercice est suivi d'une cellule de vérification : elle affiche « ✅ Bravo » quand la réponse est
juste, sinon « ❌ » avec ce qui ne va pas et une piste. Cherchez « À vous de compléter ».
""",
    "en": """Practical: implementing a convolutional network (LeNet-5)
=========================================================

Open the exercises (no network needed, lenetlab installed):

    jupyter notebook {student}

Each exercise is followed by a check cell: it prints "✅ Well done" when the answer is right, else "❌"
with what is wrong and a hint. Look for "Your turn".
""",
}
_README_TEACHER = {
    "fr": """
Pour l'enseignant : {teacher} (le corrigé), {worksheet} (la fiche à imprimer, une question par cadre),
{guide} (déroulé de la séance, temps mesurés, erreurs fréquentes){page}.
""",
    "en": """
For the teacher: {teacher} (the answers), {worksheet} (the printable worksheet), {guide} (the lesson plan,
in French: measured times, common mistakes){page}.
""",
}


def _check_unchanged(path: Path, text: str) -> None:
    """Refuse ``path`` when it holds something else than ``text``: a student's work is never replaced.

    (The ownership rule already refuses a file lenetlab did not write; a notebook lenetlab wrote may since
    hold a student's answers, so it is replaced only when it is still exactly what lenetlab would write.)
    """
    check_replaceable(path)
    if path.is_file() and path.read_text(encoding="utf-8", errors="replace") != text:
        raise LenetlabError(f"{path} has changed since lenetlab wrote it (a student's answers?); it is never "
                            "replaced: move it away, or choose another --out")


def _package_file(*parts: str) -> bytes:
    path = resources.files("lenetlab.td").joinpath(*parts)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LenetlabError(f"this lenetlab install lacks {'/'.join(parts)}; reinstall lenetlab "
                            "(`pip install --force-reinstall lenetlab`)") from None


def write_class_pack(out: str | Path, lang: str | None = None, teacher: bool = False, run: str | Path | None = None,
                     log: Callable[[str], None] | None = print) -> list[Path]:
    """Write the TD's files into ``out``; returns their paths.

    ``teacher`` adds the corrigé, the worksheet, the guide and an offline page of a trained LeNet-5:
    the run ``run`` if given, else one trained now (10 epochs of the default recipe, about a minute on
    two cores) into ``out/run-lenet5``.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in write_class_pack(tempfile.mkdtemp(), "fr", log=None)]
    ['td_lenet5_enonce.ipynb', 'LISEZMOI.txt']
    >>> [p.name for p in write_class_pack(tempfile.mkdtemp(), "en", log=None)]
    ['td_lenet5_exercises.ipynb', 'README.txt']
    """
    lang = check_lang(lang)
    if run is not None and not teacher:
        raise LenetlabError("--run gives the network of the teacher's page: add --teacher, or drop --run")
    out = Path(out)
    files = {name: _package_file("notebooks", source).decode("utf-8") for source, name in _STUDENT[lang].items()}
    student = next(iter(files))
    readme = _README[lang].format(student=student)
    page = out / PAGE
    if teacher:
        files.update({name: _package_file("notebooks", source).decode("utf-8")
                      for source, name in _TEACHER[lang].items()})
        files[WORKSHEET[lang]] = build_worksheet(lang)
        files[GUIDE] = _package_file("enseignant.md").decode("utf-8")
        readme += _README_TEACHER[lang].format(
            teacher=next(iter(_TEACHER[lang].values())), worksheet=WORKSHEET[lang], guide=GUIDE,
            page=(f", {page.name} (LeNet-5 entraîné, à ouvrir dans un navigateur)" if lang == "fr"
                  else f", {page.name} (a trained LeNet-5, to open in a web browser)"))
    files["LISEZMOI.txt" if lang == "fr" else "README.txt"] = readme
    for name, text in files.items():  # every file checked before any is written
        _check_unchanged(out / name, text)
    if teacher:
        check_replaceable(page)
    ensure_folder(out)
    written = [write_text(out / name, text) for name, text in files.items()]
    if teacher:
        written.append(_teacher_page(out, lang, run, log))
    return written


def _teacher_page(out: Path, lang: str, run: str | Path | None, log: Callable[[str], None] | None) -> Path:
    """The offline page of ``run``, or of a LeNet-5 trained now for it."""
    if run is None:
        run = out / "run-lenet5"
        if not (run / "metrics.json").is_file():  # a pack written before keeps its network
            if log is not None:
                log(f"training LeNet-5 for the page ({PAGE_EPOCHS} epochs) into {run}")
            train_run(TrainConfig.from_preset("default", epochs=PAGE_EPOCHS), run, progress=log is not None,
                      log=log, lang=lang, resume=(run / "config.json").is_file(), finish=finish_run)
    return export_run(run, out / PAGE, lang)
