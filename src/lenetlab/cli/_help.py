"""The command line's help in the student's language: ``lenetlab X --help`` in French when the language is French.

The help texts stay in English beside the flags they describe (each cli module); a French parser gets its
words from the catalogue (``i18n/fr.help.json``) once built, by a walk of the whole tree: each flag's help,
each command's description, examples and line in its parent's list, each group's title. A text's key is
its command's path and its name: ``help.train.--epochs``, ``help.explore.attack.--eps``,
``help.train.description``, ``help.train.epilog``, ``help.train.summary`` (its line in ``lenetlab --help``),
``help.train.group.the_run``; the main parser's have no path (``help.description``). A text that is the
same in every command (``--device``, ``--lang``, ``-h``, the "options" heading) has one key for all,
``help.*.--device``, unless a command words it its own way and has its own key.

``i18n/en.help.json`` holds the English of every key, as the code writes it: a translation is used only
while that English is still the code's, so a changed English text shows in English rather than as a stale
French one (and tests/test_help_french.py fails until its French is updated). argparse's own words (usage,
"(default: ...)") come from ``help.format.*`` through :class:`FrenchFormatter`, with defaults written the
French way (decimal comma, oui/non).

Help strings go through argparse's ``%`` formatting: a literal percent is ``%%`` in both files (descriptions,
examples and headings are not formatted: a plain ``%`` there).
"""

from __future__ import annotations

import argparse
import copy
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..catalogue import NARROW_NBSP, localize_number_text, messages
from ._parser import escape_percent

SHARED = "*"  # the path of a key that serves every command
DEFAULT = " (default: %(default)s)"  # what argparse adds after a flag's help (BooleanOptionalAction too, before 3.13)
# add_config_flags' note on a preset-set field: " (preset default: 40; seed: 15; speedrun: 10; paper: 20)"
_PRESETS = re.compile(r" \(preset default: (?P<default>[^;()]*)(?P<others>(?:; [\w-]+: [^;()]*)*)\)$")


@dataclass
class HelpText:
    """One English text of the tree, where its translation may be (the first key whose English matches wins)."""

    keys: tuple[str, ...]
    english: str
    put: Callable[[str], None]
    formatted: bool  # argparse %-formats it: a literal percent is %%


def _key(path: tuple[str, ...], name: str) -> str:
    return ".".join(("help", *path, name))


def _flag(action: argparse.Action) -> str:
    """An action's name in its key: its first long option (``--epochs``, ``--help``), a positional's dest."""
    return next((o for o in action.option_strings if o.startswith("--")), None) or (
        action.option_strings[0] if action.option_strings else action.dest)


def _slug(title: str) -> str:
    return re.sub(r"\W+", "_", title.lower()).strip("_")


def help_texts(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[HelpText]:
    """Every translatable text of ``parser`` and of the commands below it, in the order argparse prints them."""
    for name in ("description", "epilog"):
        text = getattr(parser, name)
        if text:
            yield HelpText((_key(path, name),), text, functools.partial(setattr, parser, name), False)
    for group in parser._action_groups:
        slug = _slug(group.title or "")
        if group.title:
            yield HelpText((_key(path, f"group.{slug}"), _key((SHARED,), f"group.{slug}")), group.title,
                           functools.partial(setattr, group, "title"), False)
        if group.description:
            yield HelpText((_key(path, f"group.{slug}.description"),), group.description,
                           functools.partial(setattr, group, "description"), False)
    for action in parser._actions:
        if action.help and action.help is not argparse.SUPPRESS:
            yield _action_text(action, path)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.help and choice.help is not argparse.SUPPRESS:
                    yield HelpText((_key((*path, choice.dest), "summary"),), choice.help,
                                   functools.partial(setattr, choice, "help"), True)
            for name, command in action.choices.items():
                yield from help_texts(command, (*path, name))


def _action_text(action: argparse.Action, path: tuple[str, ...]) -> HelpText:
    """A flag's help without the notes argparse and add_config_flags add to it, which the French words anew."""
    core, default, presets = action.help, False, None
    if core.endswith(DEFAULT):
        core, default = core[: -len(DEFAULT)], True
    match = _PRESETS.search(core)
    if match:
        core, presets = core[: match.start()], match

    def put(french: str) -> None:
        words, text = messages("fr"), french
        if presets is not None:
            others = [item.split(": ", 1) for item in presets["others"].split("; ") if item]
            text += words["help.format.presets"].format(
                default=escape_percent(_french_text(presets["default"])),
                others=words["help.format.presets_join"].join(
                    words["help.format.preset"].format(preset=name, value=escape_percent(_french_text(value)))
                    for name, value in others))
        action.help = text + (words["help.format.default"] if default else "")

    flag = _flag(action)
    return HelpText((_key(path, flag), _key((SHARED,), flag)), core, put, True)


def _french_text(value: str) -> str:
    """A value as Python printed it (``0.05``, ``True``, ``sgd``) as French writes it (``0,05``, ``oui``, ``sgd``)."""
    if value in ("True", "False"):
        return messages("fr")[f"help.format.{value.lower()}"]
    if re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", value):
        return localize_number_text(value, "fr")
    return value


def _french_value(value: Any) -> Any:
    """A default as French writes it; a value with nothing to change (text, a path, None) is returned as is."""
    if isinstance(value, (bool, int, float)):  # True -> oui, 0.05 -> 0,05, 10000 -> 10 000
        return _french_text(str(value))
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value):
        return messages("fr")["help.format.presets_join"].join(_french_value(v) for v in value)
    return value


class FrenchFormatter(argparse.HelpFormatter):
    """argparse's own words in French, put before a parser's formatter class (see :func:`_french_class`).

    "usage:" from the catalogue, a narrow no-break space before each heading's colon, "(default: ...)"
    in French with the value written the French way.
    """

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, messages("fr")["help.format.usage"] if prefix is None else prefix)

    def start_section(self, heading: str | None) -> None:
        super().start_section(heading + NARROW_NBSP if heading else heading)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if text and text.endswith(DEFAULT):
            text = text[: -len(DEFAULT)] + messages("fr")["help.format.default"]
        return text

    def _expand_help(self, action: argparse.Action) -> str:
        default = _french_value(action.default)
        if default is action.default:
            return super()._expand_help(action)
        shown = copy.copy(action)
        shown.default = default
        return super()._expand_help(shown)


@functools.cache
def _french_class(formatter: type) -> type:
    if issubclass(formatter, FrenchFormatter):
        return formatter
    return type("French" + formatter.__name__, (FrenchFormatter, formatter), {})


def translation_key(text: HelpText, lang: str) -> str | None:
    """The key that holds ``text``'s words in ``lang``: the first of its keys whose English is ``text``'s."""
    english, words = messages("en"), messages(lang)
    return next((key for key in text.keys if english.get(key) == text.english and key in words), None)


def localize_help(parser: argparse.ArgumentParser, lang: str) -> argparse.ArgumentParser:
    """``parser``'s help (and every command's below it) in French when ``lang`` is fr, in place; else as written."""
    if lang != "fr":
        return parser
    words = messages(lang)
    for text in help_texts(parser):
        key = translation_key(text, lang)
        if key is not None:  # a lone % a translator wrote stays a %, not a crash of --help
            text.put(escape_percent(words[key]) if text.formatted else words[key])
    _set_formatters(parser)
    return parser


def _set_formatters(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = _french_class(parser.formatter_class)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _set_formatters(command)
