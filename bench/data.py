"""Benchmark tables: 8 quasi-identifiers, a 12-valued sensitive attribute."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

QIS = ["age", "sex", "postcode", "weight", "height", "admission_day", "ethnicity", "education"]
CATEGORICAL = {"sex", "ethnicity"}


def table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(0, 100, n),
            "sex": rng.choice(np.array(["F", "M"]), n),
            "postcode": rng.integers(10000, 99999, n),
            "weight": np.round(rng.normal(75, 15, n), 1),
            "height": np.round(rng.normal(170, 10, n), 1),
            "admission_day": rng.integers(0, 3650, n),
            "ethnicity": rng.choice(np.array(["A", "B", "C", "D", "E"]), n),
            "education": rng.integers(1, 17, n),
            "diagnosis": rng.integers(0, 12, n).astype(str),
        }
    )


def arrays(n: int, seed: int = 0) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """The same table already encoded for the core: x [n, 8], sensitive codes, categories."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, 8), dtype=np.float64)
    x[:, 0] = rng.integers(0, 100, n)
    x[:, 1] = rng.integers(0, 2, n)
    x[:, 2] = rng.integers(10000, 99999, n)
    x[:, 3] = np.round(rng.normal(75, 15, n), 1)
    x[:, 4] = np.round(rng.normal(170, 10, n), 1)
    x[:, 5] = rng.integers(0, 3650, n)
    x[:, 6] = rng.integers(0, 5, n)
    x[:, 7] = rng.integers(1, 17, n)
    s = rng.integers(0, 12, n).astype(np.int32)
    cats = np.array([0, 2, 0, 0, 0, 0, 5, 0], dtype=np.int64)
    return x, s, cats
