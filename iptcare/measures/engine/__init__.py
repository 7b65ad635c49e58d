"""The generic scoring engine. Instruments are TOML files in ``measures/instruments/``; the engine
knows no instrument by name. A malformed file is refused when it is loaded, naming every problem,
so a typo in a cutoff can never reach a client's score.

Public surface: ``load_all``, ``get``, ``load_file``, ``load_dir``, ``score``,
``reliable_change`` and the dataclasses they return. ``instruments/phq-9.toml`` shows the format.
"""

from iptcare.measures.engine.definitions import (
    INSTRUMENTS_DIR,
    Band,
    DefinitionError,
    Instrument,
    InvalidAnswers,
    Item,
    NoReliableChangeRule,
    Option,
    Source,
    UnknownInstrument,
)
from iptcare.measures.engine.loader import get, load_all, load_dir, load_file
from iptcare.measures.engine.scoring import (
    Flag,
    ReliableChange,
    ScoreResult,
    ScreenResult,
    reliable_change,
    score,
)

__all__ = [
    "INSTRUMENTS_DIR",
    "Band",
    "DefinitionError",
    "Flag",
    "Instrument",
    "InvalidAnswers",
    "Item",
    "NoReliableChangeRule",
    "Option",
    "ReliableChange",
    "ScoreResult",
    "ScreenResult",
    "Source",
    "UnknownInstrument",
    "get",
    "load_all",
    "load_dir",
    "load_file",
    "reliable_change",
    "score",
]
