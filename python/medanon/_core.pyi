"""Stubs for medanon._core, the compiled core. Not a public API: use medanon.anonymise()."""

import numpy as np
import numpy.typing as npt

ENTROPY_TOLERANCE: float

def mondrian(
    quasi_identifiers: npt.NDArray[np.float64],
    sensitive: npt.NDArray[np.int32],
    categories: npt.NDArray[np.int64],
    k: int,
    diversity: str,
    l: float,
    c: float,
    mode: str,
    threads: int = 1,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
]: ...
def satisfies(counts: npt.NDArray[np.int64], diversity: str, l: float, c: float) -> bool: ...
def split_kernel() -> str: ...
