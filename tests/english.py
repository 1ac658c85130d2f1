"""Find English left in what a French student reads: words, not a list of known strings.

The English vocabulary is every word of lenetlab's English catalogues plus the common English words
below (function words and the words of the field); the French vocabulary is every word of the French
catalogues plus common French words. A word is English left over when it is in the first, not in the
second, and not a name (a layer, a setting, a file, a library) from the allow-list. So a hard-coded
English sentence is found even when nobody listed it, as long as it has one English word in it, which
every English sentence does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lenetlab.i18n import messages

COMMON_ENGLISH = set("""
a about above after all also an and any are as at be been before below best between both but by can
closest computation computed could did do does done each either every few for from had has have how if
in into is it its just least less like many more most much must no none not now of off on one only or
other our out over per same see shown since so some such than that the their them then there these they
this those through to too two under up upon us was we were what when where which while who why will
with within without would yet you your
accuracy accurate activation activations attack attribution average axis batch blue bottom bright
channel channels chance class classes classic column columns confidence confident correct count
curve curves dark data depth dimension dimensions distance down epoch epochs error errors feature
features figure filter filters found green grid hidden image kernel kernels label labels layer layers
learned learning left loss losses map maps mean model models near nearest network networks neighbour
neighbours number numbers original output outputs padding parameter parameters pixel pixels predicted
prediction predictions rate red right row rows sample samples score scores seconds separation shape
shift size space step steps stride sum test testing time total train trained training true truth
units value values variant variants weight weights wrong
""".split())

COMMON_FRENCH = set("""
a à au aux avec ce ces cette d dans de des du elle en est et il ils je l la le les leur mais me même
n ne nous on ou où par pas plus pour qu que qui sa se ses si son sous sur ta te tu un une vos votre vous
y été être
""".split()) | set("""
re e article compare double final image images instant minute minutes moment normal original originale score
scores simple test tests total train type types validation variable variables
""".split())  # words French shares with English (« en train de », « il compare »)

# Names a French text keeps as they are: layers, settings, libraries, files, units, acronyms of the field.
ALLOWED = set("""
c1 c3 c5 s2 s4 f6 fc1 fc2 fc3 conv conv1 conv2 pool pool1 pool2 relu tanh sigmoid softmax linear flatten
lenet lenet5 lenetlab mlp fcnet cnn mnist pytorch torch numpy matplotlib jupyter jupyterlab sgd adam adamw
sdlm nesterov onecycle cosine json csv png html npz pt md idx gz cpu cuda gpu tsne sne fgsm pgd rbf
lr id x y px s ms mb ko mo go kb gb nb ok
""".split())

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿœŒ]+(?:['’][A-Za-zÀ-ÖØ-öø-ÿ]+)?")


_CODE = re.compile(r"`[^`]*`|\{\w+\}|\b\w+(?:[._=]\w+)+\b|\b\w+=|\\[A-Za-z]+")
# `code`, {placeholder}, in_features, best.pt, a=b, and TeX commands (a log axis' $6\times10^{4}$)


def _words(text: str) -> set[str]:
    """The words of ``text`` in lower case, code aside (identifiers, file names, ``key=value``)."""
    return {w.lower() for w in _WORD.findall(_CODE.sub(" ", text))}


def _vocabulary(lang: str) -> set[str]:
    """The words of ``lang``'s catalogues, the command line's help (``help.*``) aside.

    The help is full of flags, commands and paths (--epochs, --method both, runs/MODEL-DATE-TIME): as
    vocabulary it would make "epochs" or "both" French; tests/test_help_french.py reads it on its own.
    """
    words: set[str] = set()
    for key, text in messages(lang).items():
        if not key.startswith("help."):
            words |= _words(text)
    return words


ENGLISH = (_vocabulary("en") | COMMON_ENGLISH)
FRENCH = (_vocabulary("fr") | COMMON_FRENCH)


def english_words(texts: Iterable[str], allowed: Iterable[str] = ()) -> list[str]:
    """The English words left in ``texts`` (sorted, each once), names in ALLOWED and ``allowed`` aside."""
    extra = {w.lower() for w in allowed}
    found: set[str] = set()
    for text in texts:
        for word in _words(text):
            bare = word.split("'")[-1].split("’")[-1]  # l'exactitude -> exactitude
            if bare in ENGLISH and bare not in FRENCH and bare not in ALLOWED and bare not in extra:
                found.add(bare)
    return sorted(found)


def figure_texts(fig) -> list[str]:
    """Every text a figure draws: titles, labels, tick labels, legends, annotations, colour bar labels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    if type(fig.canvas).__name__ == "FigureCanvasBase":  # a bare Figure's canvas draws nothing
        FigureCanvasAgg(fig)
    fig.canvas.draw()  # tick labels exist only once drawn
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
