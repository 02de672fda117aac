r"""Cassandra's ``.pomdp`` format, read and written: the exchange format of pomdp-solve, SARSOP,
ZMDP and POMDPs.jl.

What is read (the format's grammar, with pomdp-solve's semantics):

- the preamble in any order: ``discount:``, ``values: reward|cost``, and ``states:``,
  ``actions:``, ``observations:`` as a count or a list of names (which may run on over lines);
- ``start:`` as a vector, ``uniform``, one state, ``start include: ...`` or ``start exclude: ...``
  (uniform over the states named, or over the others); without it, uniform;
- ``T:``, ``O:`` and ``R:`` as single entries, rows or matrices, with ``*`` for "every",
  ``identity`` and ``uniform`` matrices, ``uniform`` rows and ``reset`` (a transition row equal to
  the start belief, as pomdp-solve reads it); a later line overrides an earlier one where they meet;
- rewards :math:`r(s, a, s', o)`, reduced exactly to the expected
  :math:`R(s, a) = \sum_{s', o} T(s' \mid s, a)\, O(o \mid s', a)\, r(s, a, s', o)` (with
  ``values: cost``, rewards are the costs negated).

A probability row may miss 1 by the file's rounding: within ``ROW_TOL`` (1e-3) it is divided by
its sum, beyond that it is refused. Every error names the file, the line and what is wrong.

Example:
    >>> import tempfile, pathlib
    >>> text = '''discount: 0.95
    ... values: reward
    ... states: left right
    ... actions: listen
    ... observations: hear-left hear-right
    ... T: listen
    ... identity
    ... O: listen
    ... 0.85 0.15
    ... 0.15 0.85
    ... R: listen : * : * : * -1.0
    ... '''
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "listen.pomdp"
    >>> _ = path.write_text(text)
    >>> m = read_pomdp(path)
    >>> m.states, m.R[:, 0], m.b0
    (('left', 'right'), array([-1., -1.]), array([0.5, 0.5]))
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from envs.pomdp import TabularPOMDP

__all__ = ["read_pomdp", "write_pomdp", "PomdpFileError", "ROW_TOL"]

ROW_TOL = 1e-3  # a probability row within this of summing to 1 is renormalised; beyond it, refused
_EXACT_TOL = 1e-9  # rows this close to 1 are kept as written (so that a written file reads back bit for bit)
_KEYWORDS = ("discount", "values", "states", "actions", "observations", "start", "T", "O", "R")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-.'+/]*$")


class PomdpFileError(ValueError):
    """A ``.pomdp`` file that cannot be read: the message names the file, the line and the fault."""


class _Tokens:
    """The file as (token, line) pairs, ``:`` a token of its own, comments dropped."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.items: list[tuple[str, int]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            for tok in line.split("#", 1)[0].replace(":", " : ").split():
                self.items.append((tok, number))
        self.i = 0

    def error(self, message: str, line: int | None = None) -> PomdpFileError:
        if line is None:
            line = self.items[min(self.i, len(self.items) - 1)][1] if self.items else 1
        return PomdpFileError(f"{self.path}:{line}: {message}")

    def peek(self, ahead: int = 0) -> str | None:
        j = self.i + ahead
        return self.items[j][0] if j < len(self.items) else None

    def line(self) -> int:
        return self.items[min(self.i, len(self.items) - 1)][1] if self.items else 1

    def take(self, what: str) -> str:
        if self.i >= len(self.items):
            raise self.error(f"the file ends where {what} was expected")
        tok = self.items[self.i][0]
        self.i += 1
        return tok

    def expect(self, token: str) -> None:
        got = self.take(f"'{token}'")
        if got != token:
            raise self.error(f"expected '{token}', got {got!r}", self.items[self.i - 1][1])

    def at_statement(self) -> bool:
        """The next tokens start a statement (``keyword :``, or ``start include``/``exclude``)."""
        tok, nxt = self.peek(), self.peek(1)
        return tok is None or (tok in _KEYWORDS and nxt == ":") or (tok == "start" and nxt in ("include", "exclude"))

    def number(self, what: str) -> float:
        tok = self.take(what)
        if not _NUMBER.match(tok):
            raise self.error(f"expected {what}, got {tok!r}", self.items[self.i - 1][1])
        return float(tok)

    def numbers(self, n: int, what: str) -> np.ndarray:
        out = np.empty(n)
        for k in range(n):
            if self.at_statement():
                raise self.error(f"{what} holds {k} numbers where {n} were expected (a truncated matrix?)")
            out[k] = self.number(f"a number of {what}")
        return out


class _Names:
    def __init__(self, what: str, names: list[str]) -> None:
        self.what, self.names = what, names
        self.index = {name: i for i, name in enumerate(names)}

    def __len__(self) -> int:
        return len(self.names)

    def resolve(self, tok: str, toks: _Tokens) -> np.ndarray:
        """The indices a reference stands for: all for ``*``, one for a number or a name."""
        if tok == "*":
            return np.arange(len(self.names))
        if tok.isdigit():
            if int(tok) >= len(self.names):
                raise toks.error(f"{self.what[:-1]} {tok} is out of range (there are {len(self.names)} {self.what})",
                                 toks.items[toks.i - 1][1])
            return np.array([int(tok)])
        if tok not in self.index:
            raise toks.error(f"unknown {self.what[:-1]} {tok!r}", toks.items[toks.i - 1][1])
        return np.array([self.index[tok]])


def _name_list(toks: _Tokens, what: str) -> list[str]:
    first = toks.take(f"the {what}")
    if first.isdigit():
        if toks.at_statement():
            return [str(i) for i in range(int(first))]
        raise toks.error(f"{what}: a count is one number, got more after {first!r}")
    names = [first]
    while not toks.at_statement():
        names.append(toks.take(f"the {what}"))
    for name in names:
        if not _NAME.match(name):
            raise toks.error(f"{what}: {name!r} is not a name (names start with a letter)")
    if len(set(names)) != len(names):
        raise toks.error(f"{what}: a name is listed twice")
    return names


def _check_row(row: np.ndarray, toks: _Tokens, where: str, line: int) -> np.ndarray:
    if not row.any():
        raise toks.error(f"no line gives {where} (the row is all zeros)", line)
    if np.any(row < 0) or np.any(row > 1):
        raise toks.error(f"{where}: a probability outside [0, 1] ({row[(row < 0) | (row > 1)][0]:g})", line)
    total = row.sum()
    if abs(total - 1.0) > ROW_TOL:
        raise toks.error(f"{where} sums to {total:.6g}, not 1 (tolerance {ROW_TOL:g})", line)
    return row / total if abs(total - 1.0) > _EXACT_TOL else row


def read_pomdp(path: str | Path) -> TabularPOMDP:
    """Read a ``.pomdp`` file (the module's syntax) into a :class:`~envs.pomdp.TabularPOMDP`.

    Raises:
        PomdpFileError: a malformed file, naming the file, the line and what is wrong.
    """
    from envs.rundir import regular_file

    path = regular_file(path, "POMDP file")
    toks = _Tokens(path, path.read_text(errors="replace"))
    pre: dict[str, object] = {}
    while toks.peek() in ("discount", "values", "states", "actions", "observations") and toks.peek(1) == ":":
        key = toks.take("a preamble entry")
        toks.expect(":")
        if key in pre:
            raise toks.error(f"'{key}:' is given twice")
        if key == "discount":
            pre[key] = toks.number("the discount")
        elif key == "values":
            pre[key] = toks.take("reward or cost")
            if pre[key] not in ("reward", "cost"):
                raise toks.error(f"values: expected 'reward' or 'cost', got {pre[key]!r}")
        else:
            pre[key] = _name_list(toks, key)
    for key in ("discount", "states", "actions", "observations"):
        if key not in pre:
            raise toks.error(f"the preamble has no '{key}:' line", 1)
    gamma = float(pre["discount"])  # type: ignore[arg-type]
    if not 0.0 < gamma <= 1.0:
        raise toks.error(f"discount must be in (0, 1], got {gamma:g}", 1)
    S, A, Z = (_Names(k, pre[k]) for k in ("states", "actions", "observations"))  # type: ignore[arg-type]
    nS, nA, nZ = len(S), len(A), len(Z)
    b0 = np.full(nS, 1.0 / nS)
    if toks.peek() == "start":
        b0 = _start(toks, S)
    T = np.zeros((nA, nS, nS))
    O = np.zeros((nA, nS, nZ))
    flat_r = np.zeros((nA, nS))  # r(s, a, ., .) where one value covers every (s', o)
    full_r: dict[tuple[int, int], np.ndarray] = {}  # (a, s) -> (S', Z) where it does not
    while toks.peek() is not None:
        line = toks.line()
        key = toks.take("T:, O: or R:")
        if key not in ("T", "O", "R") or toks.peek() != ":":
            raise toks.error(f"expected a 'T:', 'O:' or 'R:' line, got {key!r}", line)
        toks.expect(":")
        if key == "T":
            _transition(toks, A, S, T, b0, line)
        elif key == "O":
            _observation(toks, A, S, Z, O, line)
        else:
            _reward(toks, A, S, Z, flat_r, full_r, line)
    for a in range(nA):
        for s in range(nS):
            T[a, s] = _check_row(T[a, s], toks, f"T({A.names[a]}, {S.names[s]}, .)", toks.line())
            O[a, s] = _check_row(O[a, s], toks, f"O({A.names[a]}, {S.names[s]}, .)", toks.line())
    R = flat_r.T.copy()
    for (a, s), r in full_r.items():
        R[s, a] = float(T[a, s] @ (O[a] * r).sum(axis=1))
    if pre.get("values") == "cost":
        R = -R
    return TabularPOMDP.from_arrays(T, R, O, b0=b0, gamma=gamma, states=S.names, actions=A.names,
                                    observations=Z.names,
                                    info={"source": str(path), "values": pre.get("values", "reward")})


def _start(toks: _Tokens, S: _Names) -> np.ndarray:
    line = toks.line()
    toks.take("start")
    mode = toks.take("':', include or exclude")
    if mode in ("include", "exclude"):
        toks.expect(":")
        chosen = np.zeros(len(S), dtype=bool)
        while not toks.at_statement():
            chosen[S.resolve(toks.take("a state"), toks)] = True
        if mode == "exclude":
            chosen = ~chosen
        if not chosen.any():
            raise toks.error(f"start {mode}: leaves no state to start in", line)
        return chosen / chosen.sum()
    if mode != ":":
        raise toks.error(f"expected 'start:', got 'start {mode}'", line)
    tok = toks.peek()
    if tok == "uniform":
        toks.take("uniform")
        return np.full(len(S), 1.0 / len(S))
    one_index = tok is not None and tok.isdigit() and len(S) > 1 and (toks.peek(1) is None or (
        toks.peek(1) in _KEYWORDS and toks.peek(2) == ":"))
    if tok is not None and (not _NUMBER.match(tok) or one_index):  # one state, by name or index
        b = np.zeros(len(S))
        b[S.resolve(toks.take("a state"), toks)] = 1.0
        return b
    return _check_row(toks.numbers(len(S), "the start belief"), toks, "the start belief", line)


def _refs(toks: _Tokens, names: list[_Names]) -> list[np.ndarray]:
    """``x : y : z`` references, as many as follow (up to ``len(names)``)."""
    out = [names[0].resolve(toks.take(f"an {names[0].what[:-1]}"), toks)]
    for ref in names[1:]:
        if toks.peek() != ":":
            break
        toks.expect(":")
        out.append(ref.resolve(toks.take(f"a {ref.what[:-1]}"), toks))
    return out


def _transition(toks: _Tokens, A: _Names, S: _Names, T: np.ndarray, b0: np.ndarray, line: int) -> None:
    refs = _refs(toks, [A, S, S])
    nS = len(S)
    if len(refs) == 3:
        T[np.ix_(*refs)] = _probability(toks, "T")
        return
    word = toks.peek()
    if len(refs) == 2:
        a, s = refs
        if word == "uniform":
            toks.take(word)
            row = np.full(nS, 1.0 / nS)
        elif word == "reset":
            toks.take(word)
            row = b0
        else:
            row = toks.numbers(nS, "a T row")
        T[np.ix_(a, s)] = row
        return
    (a,) = refs
    if word == "identity":
        toks.take(word)
        T[a] = np.eye(nS)
    elif word == "uniform":
        toks.take(word)
        T[a] = 1.0 / nS
    elif word == "reset":
        raise toks.error("'reset' is for one transition row (T: action : state reset)", line)
    else:
        T[a] = toks.numbers(nS * nS, "a T matrix").reshape(nS, nS)


def _observation(toks: _Tokens, A: _Names, S: _Names, Z: _Names, O: np.ndarray, line: int) -> None:
    refs = _refs(toks, [A, S, Z])
    nS, nZ = len(S), len(Z)
    if len(refs) == 3:
        O[np.ix_(*refs)] = _probability(toks, "O")
        return
    if toks.peek() in ("identity", "reset"):
        raise toks.error(f"'{toks.peek()}' is not an observation matrix (uniform or numbers)", line)
    uniform = toks.peek() == "uniform"
    if uniform:
        toks.take("uniform")
    if len(refs) == 2:
        O[np.ix_(*refs)] = 1.0 / nZ if uniform else toks.numbers(nZ, "an O row")
    else:
        O[refs[0]] = 1.0 / nZ if uniform else toks.numbers(nS * nZ, "an O matrix").reshape(nS, nZ)


def _reward(toks: _Tokens, A: _Names, S: _Names, Z: _Names, flat: np.ndarray,
            full: dict[tuple[int, int], np.ndarray], line: int) -> None:
    refs = _refs(toks, [A, S, S, Z])
    nS, nZ = len(S), len(Z)
    if len(refs) < 2:
        raise toks.error("an R line names at least an action and a start state (R: action : state ...)", line)
    if len(refs) == 4:
        value, every = toks.number("a reward"), len(refs[2]) == nS and len(refs[3]) == nZ
        block = None
    elif len(refs) == 3:
        value, every, block = None, False, toks.numbers(nZ, "an R row")
    else:
        value, every, block = None, False, toks.numbers(nS * nZ, "an R matrix").reshape(nS, nZ)
    for a in refs[0]:
        for s in refs[1]:
            key = (int(a), int(s))
            if every:  # one value for every (s', o): exact, no sum needed
                flat[key] = value
                full.pop(key, None)
                continue
            table = full.setdefault(key, np.full((nS, nZ), flat[key]))
            if value is not None:
                table[np.ix_(refs[2], refs[3])] = value
            elif len(refs) == 3:
                table[refs[2]] = block
            else:
                table[:] = block


def _probability(toks: _Tokens, what: str) -> float:
    line = toks.line()
    p = toks.number(f"a {what} probability")
    if not 0.0 <= p <= 1.0:
        raise toks.error(f"a {what} probability must be in [0, 1], got {p:g}", line)
    return p


def _lines(m: TabularPOMDP) -> Iterator[str]:
    def names(items: tuple[str, ...]) -> str:
        numbered = all(name == str(i) for i, name in enumerate(items))
        return str(len(items)) if numbered else " ".join(items)

    yield f"# written by gridlab ({m.n_states} states, {m.n_actions} actions, {m.n_observations} observations)"
    yield f"discount: {m.gamma!r}"
    yield "values: reward"
    yield f"states: {names(m.states)}"
    yield f"actions: {names(m.actions)}"
    yield f"observations: {names(m.observations)}"
    yield "start: " + " ".join(repr(float(x)) for x in m.b0)
    for a in range(m.n_actions):
        Ta = m.T[a].tocsr()
        for s in range(m.n_states):
            for j in range(Ta.indptr[s], Ta.indptr[s + 1]):
                yield f"T: {a} : {s} : {int(Ta.indices[j])} {float(Ta.data[j])!r}"
    for a in range(m.n_actions):
        for s, o in zip(*np.nonzero(m.O[a])):
            yield f"O: {a} : {int(s)} : {int(o)} {float(m.O[a, s, o])!r}"
    for s, a in zip(*np.nonzero(m.R)):
        yield f"R: {int(a)} : {int(s)} : * : * {float(m.R[s, a])!r}"


def write_pomdp(pomdp: TabularPOMDP, path: str | Path) -> Path:
    """Write ``pomdp`` as a ``.pomdp`` file that :func:`read_pomdp` reads back exactly.

    Entries are written one per line (sparse), probabilities and rewards with every digit
    (``repr``), the start belief as a vector and rewards as the expected :math:`R(s, a)`. A model
    with terminal states is refused: the format has none.

    Example:
        >>> import tempfile, pathlib
        >>> m = TabularPOMDP.from_arrays(np.array([np.eye(2)]), np.array([[1.0], [0.5]]), np.full((1, 2, 2), 0.5))
        >>> back = read_pomdp(write_pomdp(m, pathlib.Path(tempfile.mkdtemp()) / "m.pomdp"))
        >>> np.array_equal(back.R, m.R) and np.array_equal(back.O, m.O)
        True
    """
    if np.any(pomdp.mdp.terminal):
        raise ValueError("the .pomdp format has no terminal states; this model has "
                         f"{int(pomdp.mdp.terminal.sum())}")
    from envs.rundir import atomic_write_text

    return atomic_write_text(path, "\n".join(_lines(pomdp)) + "\n")
