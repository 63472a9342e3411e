"""Information loss of a partitioning: discernibility, C_avg and NCP."""

from __future__ import annotations

import numpy as np

from medanon.tabular.encode import EncodedTable
from medanon.tabular.partitioning import Partitioning
from medanon.tabular.release import category_pairs


def discernibility(part: Partitioning) -> int:
    """Discernibility metric: the sum over classes of |E|^2 (Bayardo & Agrawal 2005).

    Examples
    --------
    >>> import numpy as np
    >>> p = Partitioning(np.zeros(5, np.int64), np.zeros((2, 1)), np.zeros((2, 1)), np.array([2, 3]))
    >>> discernibility(p)
    13
    """
    c = part.counts.astype(np.int64)
    return int((c * c).sum())


def average_class_size(part: Partitioning, k: int) -> float:
    """C_avg = (rows / classes) / k (LeFevre et al. 2006); 1.0 is ideal."""
    return float(part.counts.sum() / part.n_partitions / k)


def ncp(enc: EncodedTable, part: Partitioning) -> float:
    """Normalised certainty penalty (GCP), in [0, 1]: 0 is no loss.

    Per row and quasi-identifier: numeric (max - min) / (table max - table min);
    categorical 0 for a single value, else distinct values in the class over
    distinct values in the table. Averaged over rows and quasi-identifiers.

    References
    ----------
    Xu, Wang, Pei, Wang, Shi, Fu, "Utility-Based Anonymization Using Local
    Recoding", KDD 2006; Ghinita et al., "Fast Data Anonymization with Low
    Information Loss", VLDB 2007.
    """
    n, d = enc.x.shape
    counts = part.counts.astype(np.float64)
    total = 0.0
    for j, col in enumerate(enc.columns):
        if col.kind == "categorical":
            pairs = category_pairs(enc.x[:, j], part.labels)
            distinct = np.bincount(pairs[:, 0], minlength=part.n_partitions).astype(np.float64)
            domain = float(len(np.unique(pairs[:, 1])))
            pen = np.where(distinct > 1, distinct / domain, 0.0) if domain > 1 else np.zeros_like(distinct)
        else:
            span = float(enc.x[:, j].max() - enc.x[:, j].min())
            pen = (part.maxs[:, j] - part.mins[:, j]) / span if span > 0 else np.zeros(part.n_partitions)
        total += float((pen * counts).sum())
    return float(total / (n * d))
