"""Strings that match a regular expression, drawn from a seeded `random.Random`.

Walks the pattern as Python's own parser reads it (`re._parser`), so every construct Python
accepts is understood: classes, categories, alternation, groups and backreferences, bounded and
unbounded repeats (unbounded ones add at most `extra` repetitions). Lookarounds and anchors are
skipped while generating; `matching` checks each candidate with `re.search` (JSON Schema's
semantics: the pattern may match anywhere) and retries, so what it returns always matches.

    >>> matching(r"^INV-\\d{4}$", random.Random(1))
    'INV-2078'
"""

from __future__ import annotations

import random
import re
import string
from functools import lru_cache
from re import _constants as c  # private, but stable since 3.11: what `re` itself uses
from re import _parser as parser
from typing import Any

_PRINTABLE = string.ascii_letters + string.digits + " -_.,:/@"
_WORD = string.ascii_letters + string.digits + "_"
_CATEGORIES = {
    c.CATEGORY_DIGIT: string.digits,
    c.CATEGORY_NOT_DIGIT: string.ascii_letters + "-_. ",
    c.CATEGORY_SPACE: " ",
    c.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
    c.CATEGORY_WORD: _WORD,
    c.CATEGORY_NOT_WORD: " -.,:/@",
}


def matching(
    pattern: str,
    rng: random.Random,
    *,
    min_length: int = 0,
    max_length: int | None = None,
    attempts: int = 30,
) -> str | None:
    """A string that `re.search(pattern, s)` finds, its length in bounds; None if none found."""
    try:
        compiled = re.compile(pattern)
        tree = _parse(pattern)
    except (re.error, RecursionError):
        return None
    anchored_end = _ends_anchored(tree)
    for attempt in range(attempts):
        extra = 0 if attempt % 3 == 2 else max(4, min_length) if attempt % 3 == 1 else 4
        text = _Emitter(rng, extra).emit(tree)
        if len(text) < min_length and not anchored_end:
            pad = min_length - len(text)
            text += "".join(rng.choice(string.ascii_lowercase) for _ in range(pad))
        if max_length is not None and len(text) > max_length:
            continue
        if len(text) >= min_length and compiled.search(text):
            return text
    return None


@lru_cache(maxsize=256)
def _parse(pattern: str) -> Any:
    return parser.parse(pattern)


def _ends_anchored(tree: Any) -> bool:
    items = list(tree)
    return bool(items) and items[-1][0] is c.AT and items[-1][1] in (c.AT_END, c.AT_END_STRING)


class _Emitter:
    def __init__(self, rng: random.Random, extra: int) -> None:
        self.rng = rng
        self.extra = extra
        self.groups: dict[int, str] = {}

    def emit(self, tree: Any) -> str:
        return "".join(self.node(op, av) for op, av in tree)

    def node(self, op: Any, av: Any) -> str:
        if op is c.LITERAL:
            return chr(av)
        if op is c.NOT_LITERAL:
            return self.rng.choice([ch for ch in _PRINTABLE if ord(ch) != av])
        if op is c.ANY:
            return self.rng.choice(string.ascii_letters)
        if op is c.IN:
            return self.char_in(av)
        if op is c.BRANCH:
            return self.emit(self.rng.choice(av[1]))
        if op is c.SUBPATTERN:
            group, _add, _del, sub = av
            text = self.emit(sub)
            if group is not None:
                self.groups[group] = text
            return text
        if op is c.ATOMIC_GROUP:
            return self.emit(av)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, sub = av
            top = low + self.extra if high == c.MAXREPEAT else min(high, low + self.extra)
            return "".join(self.emit(sub) for _ in range(self.rng.randint(low, top)))
        if op is c.GROUPREF:
            return self.groups.get(av, "")
        if op is c.GROUPREF_EXISTS:
            group, yes, no = av
            return self.emit(yes) if group in self.groups else (self.emit(no) if no else "")
        return ""  # AT (anchors, \b) and lookarounds: checked afterwards by re.search

    def char_in(self, items: list[tuple[Any, Any]]) -> str:
        if items and items[0][0] is c.NEGATE:
            allowed = [ch for ch in _PRINTABLE if not _in_set(ch, items[1:])]
            return self.rng.choice(allowed or ["~"])
        choices: list[str] = []
        for op, av in items:
            if op is c.LITERAL:
                choices.append(chr(av))
            elif op is c.RANGE:
                low, high = av
                printable = [ch for ch in _PRINTABLE if low <= ord(ch) <= high]
                choices.extend(printable or [chr(self.rng.randint(low, high))])
            elif op is c.CATEGORY:
                choices.extend(_CATEGORIES.get(av, string.ascii_letters))
        return self.rng.choice(choices) if choices else ""


def _in_set(ch: str, items: list[tuple[Any, Any]]) -> bool:
    code = ord(ch)
    for op, av in items:
        if op is c.LITERAL and av == code:
            return True
        if op is c.RANGE and av[0] <= code <= av[1]:
            return True
        if op is c.CATEGORY and re.match(_CATEGORY_RE.get(av, "(?!)"), ch):
            return True
    return False


_CATEGORY_RE = {
    c.CATEGORY_DIGIT: r"\d",
    c.CATEGORY_NOT_DIGIT: r"\D",
    c.CATEGORY_SPACE: r"\s",
    c.CATEGORY_NOT_SPACE: r"\S",
    c.CATEGORY_WORD: r"\w",
    c.CATEGORY_NOT_WORD: r"\W",
}
