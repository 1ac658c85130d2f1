"""``lenetlab td``: the course's class pack (énoncé, and for the teacher the corrigé, worksheet, guide, page)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._parser import add_command


def register(sub: Any) -> None:
    p = add_command(sub, "td", _td)
    p.add_argument("--out", type=Path, required=True, help="folder to write the pack into (created if needed)")
    p.add_argument("--teacher", action="store_true",
                   help="add the corrigé, the printable worksheet, the teacher's guide and a trained LeNet-5's page")
    p.add_argument("--run", type=Path, help="with --teacher: the run whose network the page shows (default: train one, "
                                            "about a minute)")
    p.add_argument("--lang", choices=("fr", "en"), default="fr",
                   help="language of the notebooks and the worksheet (the course is French: fr unless asked)")


def _td(args: argparse.Namespace) -> int:
    """write the TD's class pack: the students' notebook, and with --teacher the answer key and more

    Write the course notebook for students (the énoncé: each exercise followed by a check that says what is
    wrong, or « Bravo »), and with --teacher the corrigé, a printable worksheet of every question, the
    teacher's guide (French) and an offline page of a trained LeNet-5. Every file works with no network.

    examples:
      lenetlab td --out classe                        # the French énoncé, for the students
      lenetlab td --out prof --teacher                # everything the teacher needs
      lenetlab td --out class --lang en --teacher --run runs/lenet5
    """
    from ..td.pack import write_class_pack

    for path in write_class_pack(args.out, args.lang, teacher=args.teacher, run=args.run):
        print(f"  {path}")
    return 0
