"""The privacy criterion of a release: k, and the diversity of the sensitive attribute.

Validated here, in Python, before anything reaches the core, with messages that
name the bad argument; the core checks again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

DiversityName = Literal["none", "distinct", "entropy", "recursive"]
DIVERSITIES: tuple[str, ...] = ("none", "distinct", "entropy", "recursive")

#: The entropy test allows this much rounding (the core uses the same constant).
ENTROPY_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Criterion:
    """k-anonymity plus a diversity criterion on the sensitive attribute.

    Parameters
    ----------
    k : int
        Every released group holds at least k rows.
    diversity : {"none", "distinct", "entropy", "recursive"}
        Machanavajjhala et al.'s l-diversity variants.
    l : float
        Distinct and recursive: an integer >= 1. Entropy: any number >= 1.
    c : float
        The c of recursive (c,l)-diversity (> 0); ignored otherwise.

    Examples
    --------
    >>> Criterion(k=5, diversity="distinct", l=2)
    Criterion(k=5, diversity='distinct', l=2.0, c=1.0)

    References
    ----------
    Machanavajjhala, Kifer, Gehrke, Venkitasubramaniam, "l-Diversity: Privacy
    Beyond k-Anonymity", ACM TKDD 1(1), 2007.
    """

    k: int
    diversity: DiversityName = "none"
    l: float = 1.0
    c: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int):
            raise TypeError(f"k must be an int, got {type(self.k).__name__}")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.diversity not in DIVERSITIES:
            raise ValueError(f"diversity must be one of {', '.join(map(repr, DIVERSITIES))}, got {self.diversity!r}")
        if isinstance(self.l, bool) or not isinstance(self.l, (int, float)):
            raise TypeError(f"l must be a number, got {type(self.l).__name__}")
        object.__setattr__(self, "l", float(self.l))
        if not math.isfinite(self.l) or self.l < 1:
            raise ValueError(f"l must be a finite number >= 1, got {self.l}")
        if self.diversity in ("distinct", "recursive") and self.l != math.floor(self.l):
            raise ValueError(f"l must be an integer for {self.diversity} diversity, got {self.l}")
        if isinstance(self.c, bool) or not isinstance(self.c, (int, float)):
            raise TypeError(f"c must be a number, got {type(self.c).__name__}")
        object.__setattr__(self, "c", float(self.c))
        if self.diversity == "recursive" and (not math.isfinite(self.c) or self.c <= 0):
            raise ValueError(f"c must be a finite number > 0 for recursive (c,l)-diversity, got {self.c}")


def satisfies(criterion: Criterion, counts: Sequence[int]) -> bool:
    """Whether a group with these sensitive-value counts meets the diversity criterion.

    ``counts`` lists the count of each sensitive value in ascending code order
    (zeros allowed and ignored). Plain Python, written for clarity; it rounds
    exactly as the C++ core does (same operations, same order).

    Examples
    --------
    >>> satisfies(Criterion(k=1, diversity="entropy", l=2), [5, 5])
    True
    >>> satisfies(Criterion(k=1, diversity="recursive", l=2, c=1.0), [3, 2, 1])
    False
    """
    present = [int(v) for v in counts if v > 0]
    if criterion.diversity == "none":
        return True
    if criterion.diversity == "distinct":
        return len(present) >= criterion.l
    if criterion.diversity == "entropy":
        if not present:
            return False
        total = 0
        s = 0.0
        for v in present:
            total += v
            s += float(v) * math.log(float(v))
        n = float(total)
        h = math.log(n) - s / n
        return h >= math.log(criterion.l) - ENTROPY_TOLERANCE
    # recursive (c,l): r1 < c * (r_l + ... + r_m)
    ordered = sorted(present, reverse=True)
    l = int(criterion.l)
    if not ordered or len(ordered) < l:
        return False
    return float(ordered[0]) < criterion.c * float(sum(ordered[l - 1 :]))
