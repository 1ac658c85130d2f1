"""``lenetlab --help`` and every command's ``--help`` in French, from i18n/fr.help.json (cli/_help.py).

The help texts are written in English in the cli modules; i18n/en.help.json holds that English under the
same keys as the French, so a flag added without its French (or an English text changed without its
French) fails here, and the French printed is read for English words by tests/english.py.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

import lenetlab.i18n
from english import ALLOWED, ENGLISH, FRENCH, _words, english_words
from lenetlab.cli import build_parser, main
from lenetlab.cli._help import DEFAULT, help_texts, translation_key
from lenetlab.cli._parser import escape_percent
from lenetlab.i18n import NARROW_NBSP

FOLDER = Path(lenetlab.i18n.__file__).parent
EN = json.loads((FOLDER / "en.help.json").read_text(encoding="utf-8"))
FR = json.loads((FOLDER / "fr.help.json").read_text(encoding="utf-8"))

# Names a French help keeps as they are, besides flags, metavars, choices, paths, file names and the examples'
# command lines (taken out below): people, libraries and tools, a layer (H1), the settings a sweep varies.
NAMES = {"adebayo", "goodfellow", "madry", "sobel", "prewitt", "gabor", "fastapi", "uvicorn", "javascript", "autocast",
         "ctrl", "usb", "td", "notebooks", "eps", "epsilon", "h", "pooling", "optimizer", "augment"}
# French words English has too that no other French text of lenetlab uses (so tests/english.py does not know them).
SHARED_WORDS = {"options", "positions", "machines", "port", "guide", "bravo", "énoncé", "corrigé"}
# Model names `lenetlab paper --models` takes (its flag has no choices to read them from).
MODELS = {"linear", "nn-300", "nn-1000", "nn-300-100", "nn-500-150", "lenet5-distortions", "lenet5-1998-distortions"}


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*prefix, name))
    return found


def _parser_of(command: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in command:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return parser


def _names(parser: argparse.ArgumentParser) -> set[str]:
    """What a user types, printed as is: metavars, the dests argparse prints for them, and choices."""
    names: set[str] = set()
    for action in parser._actions:
        names |= {str(c) for c in action.choices or ()}
        metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
        names |= {metavar, action.dest.upper(), *re.findall(r"[A-Z][A-Z0-9_]*", metavar)}  # I/N: I and N
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                names |= _names(sub)
    return names


COMMANDS = _commands(build_parser())
TYPED = _names(build_parser()) | MODELS
# English as the help writes it too (tests/english.py leaves the help out of its vocabularies: flags and paths).
ENGLISH_AND_HELP = ENGLISH.union(*(_words(text) for text in EN.values()))


def _help(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def _prose(out: str) -> str:
    """The words of a help a student reads: usage lines, flags, metavars, choices, paths and file names aside."""
    out = out.partition("\n\n")[2]  # the usage block first
    out = re.sub(r"(?m)^  lenetlab [^#\n]*", " ", out)  # the examples' command lines (their comments are prose)
    out = re.sub(r"(?<![\w-])--?[\w-]+|\{[^}]*\}|`[^`]*`|\S*/\S*|\S+\.\w+|\$\w+", " ", out)
    return re.sub(r"(?<![\w-])[\w-]+(?![\w-])", lambda m: " " if m.group(0) in TYPED else m.group(0), out)


# --- (1) every text has its key, in both files, and every key is used -----------------------------------------

def test_every_help_text_has_its_french_and_every_key_is_used():
    assert set(FR) == set(EN) and all(key.startswith("help.") for key in EN)
    used = {key for key in EN if key.startswith("help.format.")}  # argparse's own words: the French formatter's
    missing = []
    for text in help_texts(build_parser()):
        key = translation_key(text, "fr")
        if key is None:
            missing.append(f'"{text.keys[0]}": {json.dumps(text.english)}')
        else:
            used.add(key)
    assert missing == [], "add these to i18n/en.help.json and their French to fr.help.json:\n" + "\n".join(missing)
    assert sorted(set(EN) - used) == [], "keys no help text uses any more"
    assert EN["help.format.default"] == DEFAULT


def test_a_literal_percent_is_doubled_where_argparse_formats_the_text():
    formatted = {key for text in help_texts(build_parser()) if text.formatted for key in text.keys}
    for key in EN:
        for catalogue in (EN, FR):
            if key in formatted or key.startswith("help.format."):
                assert escape_percent(catalogue[key]) == catalogue[key], key  # "99 %%", "%(default)s"
            else:
                assert "%%" not in catalogue[key], key  # descriptions and examples are printed as written


def test_the_french_help_follows_french_typography():
    for key, text in FR.items():
        assert not re.search(r"[ \u00a0]([;:!?]|%(?!\())", text), (key, text)  # a narrow no-break space before ; : ! ? %
        assert text.count("«") == text.count("«" + NARROW_NBSP) and text.count("»") == text.count(NARROW_NBSP + "»")
        prose = "\n".join(line.partition("#")[2] if line.startswith("  lenetlab") else line for line in text.split("\n"))
        prose = re.sub(r"\d+(\.\d+){3}(:\d+)?|\S+\.(pt|json|csv|png|md|html)\b|--\S+ \S+", " ", prose)
        assert not re.search(r"\d\.\d", prose), (key, text)  # 0,05, not 0.05 (commands and addresses aside)
        assert "précision" not in text.lower()  # the glossary's « exactitude » (tests/test_glossary.py reads the rest)


# --- (2) every command's help in French, with no English word ---------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "lenetlab")
def test_every_help_reads_french(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping: a path cut at a hyphen is not two words
    out = _help(capsys, [*command, "--help", "--lang", "fr"])
    assert out.startswith(f"utilisation{NARROW_NBSP}: lenetlab {' '.join(command)}".rstrip())
    assert f"options{NARROW_NBSP}:" in out and "afficher cette aide et quitter" in out
    assert "usage:" not in out and "(default:" not in out and "positional arguments" not in out
    prose = _prose(out)
    assert english_words([prose], allowed=NAMES) == []
    # The help's own English words too ("usage", "positional", "exit"): French elsewhere, or shared by both languages.
    borrowed = sorted(w for w in _words(prose) if w.split("'")[-1] in ENGLISH_AND_HELP and w.split("'")[-1] not in
                      FRENCH | ALLOWED | NAMES | SHARED_WORDS)
    assert borrowed == []


def _one_line(text: str) -> str:
    return re.sub(r"[ \n]+", " ", text)  # argparse's wrapping undone (str.split would take U+202F away too)


def test_french_help_writes_values_the_french_way(capsys):
    root = _help(capsys, ["--help", "--lang", "fr"])
    assert f"99{NARROW_NBSP}% d'exactitude" in root  # the speedrun line whose % once broke --help
    train = _one_line(_help(capsys, ["train", "--help", "--lang", "fr"]))
    assert f"(par défaut{NARROW_NBSP}: 0,05{NARROW_NBSP}; recettes seed{NARROW_NBSP}: 0,01" in train
    assert f"(par défaut{NARROW_NBSP}: oui{NARROW_NBSP}; recettes seed{NARROW_NBSP}: non" in train  # --nesterov
    assert f"20{NARROW_NBSP}% plus rapide" in train
    attack = _one_line(_help(capsys, ["explore", "attack", "--help", "--lang", "fr"]))
    assert f"(par défaut{NARROW_NBSP}: 0{NARROW_NBSP}; 0,05{NARROW_NBSP}; 0,1" in attack
    assert f"(par défaut{NARROW_NBSP}: 10{NARROW_NBSP}000)" in attack


# --- (3) the system's language, as for every other output -------------------------------------------------------

def test_a_french_system_gets_french_help_without_lang(capsys, monkeypatch):
    for variable in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    for command in ([], ["train"], ["explore", "sweep"]):
        out = _help(capsys, [*command, "--help"])
        assert out.startswith(f"utilisation{NARROW_NBSP}: lenetlab"), command
        assert "afficher cette aide et quitter" in out
    assert _help(capsys, ["train", "--help", "--lang", "en"]).startswith("usage: lenetlab train")
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")  # LC_ALL wins, as for every other output
    assert _help(capsys, ["--help"]).startswith("usage: lenetlab")


# --- (4) English as it was ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "lenetlab")
def test_english_help_is_unchanged(command, capsys):
    out = _help(capsys, [*command, "--help", "--lang", "en"])
    assert out == _parser_of(command).format_help()  # the parser as the cli modules build it, untouched
    assert out.startswith("usage: lenetlab") and "utilisation" not in out
    texts = list(help_texts(_parser_of(command), command))
    assert texts and all(translation_key(text, "en") for text in texts)  # the English catalogue is the code's
