"""The one convention every command follows, and the flags generated from ``TrainConfig``'s fields.

Each command is ``add_command(sub, name, handler)`` plus its own arguments, its help text the
handler's docstring; flags are named exactly like the keywords of the function the handler calls
(as openai/whisper's ``cli()``), so handlers pass them on without a mapping.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from ..config import FIELD_TYPES, FIELDS, PRESETS, parse_value
from ..errors import LenetlabError, Number, Words


def escape_percent(text: str | None) -> str | None:
    """``text`` safe for argparse's ``%`` formatting of help strings: "99 % validation" stays as written.

    A lone ``%`` becomes ``%%``; argparse's own ``%(default)s`` and an already escaped ``%%`` are kept.

    >>> escape_percent("reach 99 % validation (default: %(default)s), 100%% sure")
    'reach 99 %% validation (default: %(default)s), 100%% sure'
    """
    return None if text is None else re.sub(r"%%|%\(|%", lambda m: m.group(0) if len(m.group(0)) == 2 else "%%", text)


class Parser(argparse.ArgumentParser):
    """argparse whose usage mistakes are LenetlabErrors: one line with the fix, exit status 2, as any other."""

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        if isinstance(kwargs.get("help"), str):
            kwargs["help"] = escape_percent(kwargs["help"])
        return super().add_argument(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise LenetlabError.of("error.usage", message=_argparse_words(message), prog=self.prog)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # The same words as TrainConfig's own check: "unknown model 'vgg'; choose one of: ..."
        # A LenetlabError (argparse passes it through) with a catalogue key: a French student reads it in French.
        if action.choices is not None and value not in action.choices:
            raise LenetlabError.of("error.unknown_choice", noun=(action.dest or "value").replace("_", " "),
                                   value=value, choices=", ".join(map(str, action.choices)), prog=self.prog)


# argparse's own messages a student meets most, worded by the catalogue (French too); any other stays English.
_ARGPARSE = (
    (re.compile(r"the following arguments are required: (?P<names>.+)"), "error.usage.required"),
    (re.compile(r"unrecognized arguments: (?P<names>.+)"), "error.usage.unrecognized"),
    (re.compile(r"argument (?P<flag>\S+): invalid (?P<kind>int|float) value: (?P<value>.+)"), "error.usage.not_a_number"),
    (re.compile(r"argument (?P<flag>\S+): expected one argument"), "error.usage.expected_one"),
    # the messages of this package's own argparse types (thread_count, whole_number_in)
    (re.compile(r"argument (?P<flag>\S+): (?P<value>'.*') is not a whole number"), "error.usage.not_whole"),
    (re.compile(r"argument (?P<flag>\S+): (?P<value>-?\d+) is not between (?P<low>\d+) and (?P<high>\d+)"),
     "error.usage.out_of_range"),
    (re.compile(r"argument (?P<flag>\S+): (?P<value>-?\d+) threads: give 1 to (?P<high>\d+) \(this machine has "
                r"(?P<cpus>\d+) logical CPUs\); 1 on a busy machine"), "error.usage.threads"),
)


def _argparse_words(message: str) -> str | Words:
    """``message`` from argparse as catalogue words where it is one of the usual ones (it reads the same in English)."""
    for pattern, key in _ARGPARSE:
        match = pattern.fullmatch(message)
        if match:  # whole numbers written the language's way (48 000)
            return Words(key, **{name: Number(int(value), "d") if re.fullmatch(r"-?\d+", value) else value
                                 for name, value in match.groupdict().items()})
    return message


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each flag's help (but not an empty one), examples kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        switch = action.nargs == 0 and not isinstance(action, argparse.BooleanOptionalAction)  # --force, --json
        if action.default is None or action.default == [] or switch:
            return action.help
        return super()._get_help_string(action)


def add_command(sub: Any, name: str, handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """A subcommand whose ``handler(args)`` returns the exit status.

    The handler's docstring is the command's text: its first line the one-line help, then the
    description, then an ``examples:`` block, so what a command says sits beside what it does.
    """
    doc = inspect.cleandoc(handler.__doc__ or name)
    summary, _, rest = doc.partition("\n")
    description, _, examples = rest.partition("examples:\n")
    p = sub.add_parser(name, help=escape_percent(summary), description=" ".join(description.split()) or summary.capitalize() + ".",
                       epilog=f"examples:\n{examples}" if examples else None, formatter_class=Formatter)
    p.set_defaults(handler=handler)
    return p


def add_config_flags(parser: argparse.ArgumentParser | Any, names: Iterable[str] | None = None,
                     defaults: dict[str, Any] | None = None) -> None:
    """A flag for each TrainConfig field (or those ``names``), from its type, help and choices.

    Fields a preset sets default to "not given" (the preset decides, and the help says what each
    preset uses) unless ``defaults`` gives this command's own default.
    """
    defaults = defaults or {}
    for name in FIELDS if names is None else names:
        meta = FIELDS[name].metadata
        if not meta["cli"]:
            continue
        kind = FIELD_TYPES[name]
        help_text = meta["help"]
        if name in defaults:
            default = defaults[name]
        elif meta["preset"]:
            default = argparse.SUPPRESS
            others = "; ".join(f"{preset}: {values[name]}" for preset, values in PRESETS.items() if name in values)
            help_text += f" (preset default: {FIELDS[name].default}{'; ' + others if others else ''})"
        else:
            default = FIELDS[name].default
        kwargs: dict[str, Any] = {"dest": name, "default": default, "help": help_text}
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs.update(type=kind, choices=meta["choices"], metavar=None if meta["choices"] else name.upper())
        parser.add_argument("--" + name.replace("_", "-"), **kwargs)


def given_config(args: argparse.Namespace, parser_defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The TrainConfig settings the user gave on the command line (a preset flag left out is not given)."""
    defaults = parser_defaults or {}
    return {k: v for k, v in vars(args).items()
            if k in FIELDS and v is not None and (k not in defaults or v != defaults[k])}


def add_lang_flag(parser: argparse.ArgumentParser | Any) -> None:
    """``--lang fr|en``: the language of what a student reads (default: the system's, French for LANG=fr_*)."""
    parser.add_argument("--lang", choices=("fr", "en"), default=None,
                        help="language of what the command writes and prints (default: the system's: fr when LANG "
                             "starts with fr, else en)")


class ArchAction(argparse.Action):
    """``--arch KEY=VALUE`` (repeatable) into ``args.model_args``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        arch = dict(getattr(namespace, self.dest, None) or {})
        key, sep, text = str(values).partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise LenetlabError.of("error.arch_not_key_value", value=values, prog=parser.prog)
        value = parse_value(text)
        if key in arch and arch[key] != value:
            raise LenetlabError.of("error.arch_twice", key=key, first=arch[key], second=value, prog=parser.prog)
        arch[key] = value
        setattr(namespace, self.dest, arch)


def thread_count(text: str) -> int:
    """``--threads``: a whole number from 1 to 4 x the machine's logical CPUs (an argparse type).

    More threads than that only slow PyTorch down, and 100,000 of them crash it.
    """
    limit = 4 * (os.cpu_count() or 1)
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= limit:
        raise argparse.ArgumentTypeError(f"{value} threads: give 1 to {limit} (this machine has {os.cpu_count()} "
                                         "logical CPUs); 1 on a busy machine")
    return value


def whole_number_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], else argparse's one-line error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value
    return parse


def int_list(text: str) -> list[int]:
    """``"1,5,20"`` -> ``[1, 5, 20]`` (an argparse type)."""
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of integers like 1,5,20") from None


def float_list(text: str) -> list[float]:
    """``"0,0.1,0.3"`` -> ``[0.0, 0.1, 0.3]`` (an argparse type)."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of numbers like 0,0.1,0.3") from None


def print_files(files: list[Any], lang: str | None = None) -> None:
    """« wrote a, b » in the language asked for: the last line of every command that writes files."""
    from ..i18n import check_lang, t

    print(t(check_lang(lang), "explore.wrote", files=", ".join(str(f) for f in files)))
