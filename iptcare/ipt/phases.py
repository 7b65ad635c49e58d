"""Which IPT phase a client is in: a pure function of sessions held, the contract and the
program's boundaries (DOMAIN §1; https://www.iptuk.net/stages-of-ipt.html — initial sessions 1-3
or 1-4, termination the last 2-4 sessions; https://interpersonalpsychotherapy.org/ipt-basics/
key-ipt-strategies — the number of sessions is agreed at the start)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_INITIAL_SESSIONS = 3
DEFAULT_TERMINATION_SESSIONS = 3
# Termination is prompted two to four sessions before the end.
PROMPT_FROM_BEFORE_END = 4
PROMPT_UNTIL_BEFORE_END = 2

INITIAL = "initial"
MIDDLE = "middle"
TERMINATION = "termination"
PHASE_LABELS = {
    INITIAL: "Initial phase",
    MIDDLE: "Middle phase",
    TERMINATION: "Termination (conclusion) phase",
}


@dataclass(frozen=True)
class Boundaries:
    """Sessions 1..initial_sessions are initial; the last termination_sessions are termination."""

    initial_sessions: int = DEFAULT_INITIAL_SESSIONS
    termination_sessions: int = DEFAULT_TERMINATION_SESSIONS


DEFAULT_BOUNDARIES = Boundaries()


@dataclass(frozen=True)
class PhaseInfo:
    phase: str
    session_n: int  # IPT sessions attended since the contract start
    of_n: int  # sessions agreed in the contract
    termination_prompt: bool
    overridden: bool = False
    computed_phase: str = ""  # what the numbers say, shown beside an override

    @property
    def remaining(self) -> int:
        return max(self.of_n - self.session_n, 0)

    @property
    def label(self) -> str:
        return PHASE_LABELS[self.phase]


def computed_phase(attended: int, contract_sessions: int, boundaries: Boundaries) -> str:
    """Termination wins where the two boundaries overlap (a short contract): ending matters."""
    if attended > contract_sessions - boundaries.termination_sessions:
        return TERMINATION
    if attended <= boundaries.initial_sessions:
        return INITIAL
    return MIDDLE


def phase_for(
    attended: int,
    contract_sessions: int,
    boundaries: Boundaries = DEFAULT_BOUNDARIES,
    override: str | None = None,
) -> PhaseInfo:
    """The phase after ``attended`` sessions of a ``contract_sessions`` contract.

    Session n is the number of IPT sessions held; ``termination_prompt`` is true from four
    sessions before the end through two before it (sessions 12-14 of 16). A clinician's
    ``override`` replaces the phase, not the count or the prompt.
    """
    if attended < 0 or contract_sessions < 1:
        raise ValueError("attended must be >= 0 and contract_sessions >= 1")
    phase = computed_phase(attended, contract_sessions, boundaries)
    prompt = (
        contract_sessions - PROMPT_FROM_BEFORE_END
        <= attended
        <= contract_sessions - PROMPT_UNTIL_BEFORE_END
    )
    return PhaseInfo(
        phase=override or phase,
        session_n=attended,
        of_n=contract_sessions,
        termination_prompt=prompt,
        overridden=override is not None,
        computed_phase=phase,
    )
