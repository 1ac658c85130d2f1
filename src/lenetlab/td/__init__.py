"""The checks of the TD « Implémentation d'un réseau convolutif »: after each exercise, one line that says
what is right, or what is wrong and how to fix it.

The names are the same in the French and English notebooks; only the messages change language::

    from lenetlab import td
    td.set_language("en")   # "fr" by default
    td.check_mlp(MLP)       # ✅ Well done: ... / ❌ ...

Examples
--------
>>> from torch import nn
>>> from lenetlab import td
>>> td.language()
'fr'
>>> td.set_language("en")
>>> result = td.check_parameter_count(850, nn.Linear(84, 10), "the output layer")
✅ Well done: the output layer does have 850 parameters.
>>> result.passed, td.results[-1] is result
(True, True)
>>> td.set_language("fr")
"""

from . import checks
from .checks import *  # noqa: F403 - every check, their record (results) and the language switch

__all__ = checks.__all__
