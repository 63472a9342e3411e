"""A seeded synthetic patients table with realistic, correlated characteristics."""

from __future__ import annotations

import numpy as np
import pandas as pd

DIAGNOSES = (
    "asthma",
    "diabetes",
    "hypertension",
    "COPD",
    "heart failure",
    "pneumonia",
    "fracture",
    "migraine",
    "depression",
    "appendicitis",
    "stroke",
    "sepsis",
)
ETHNICITIES = ("White", "Black", "Asian", "Mixed", "Other")


def make_patients(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Make a synthetic patients table.

    Columns: ``record`` (a row number, not an identifier), ``age`` (years),
    ``sex`` (F/M), ``postcode`` (5-digit strings, clustered), ``weight`` (kg)
    and ``height`` (cm), correlated with sex and age, ``admission_date``,
    ``ethnicity``, and ``diagnosis`` (the sensitive attribute, age-dependent).

    Examples
    --------
    >>> df = make_patients(100, seed=1)
    >>> list(df.columns)
    ['record', 'age', 'sex', 'postcode', 'weight', 'height', 'admission_date', 'ethnicity', 'diagnosis']
    >>> len(df)
    100
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    age = np.clip(rng.gamma(6.0, 8.0, n), 0, 100).astype(np.int64)
    sex = rng.choice(np.array(["F", "M"]), n)
    male = sex == "M"
    height = np.where(male, 176.0, 163.0) + rng.normal(0, 7, n) - np.where(age < 16, (16 - age) * 4.5, 0)
    bmi = rng.normal(26, 4, n) - np.where(age < 16, 6, 0)
    weight = np.round(np.clip(bmi * (height / 100) ** 2, 3, 250), 1)
    height_cm = np.round(np.clip(height, 50, 215), 1)
    centres = rng.integers(10000, 99000, 12)
    postcode = np.array([f"{v:05d}" for v in (rng.choice(centres, n) + rng.integers(0, 400, n))])
    days = rng.integers(0, 3 * 365, n)
    admission = pd.Timestamp("2022-01-01") + pd.to_timedelta(days, unit="D")
    ethnicity = rng.choice(np.array(ETHNICITIES), n, p=[0.6, 0.12, 0.15, 0.06, 0.07])
    # diagnosis depends on age: older patients get more chronic disease
    old = np.clip(age / 90.0, 0, 1)
    base = np.ones(len(DIAGNOSES))
    chronic = np.array([0.5, 2, 3, 2, 2, 1, 0.7, 0.3, 0.5, 0.2, 1.5, 1])
    young = np.array([2, 0.5, 0.3, 0.2, 0.1, 1, 2, 2, 2, 2, 0.1, 0.5])
    idx = np.empty(n, dtype=np.int64)
    for i in range(n):
        p = base + old[i] * chronic + (1 - old[i]) * young
        idx[i] = rng.choice(len(DIAGNOSES), p=p / p.sum())
    df: pd.DataFrame = pd.DataFrame(
        {
            "record": np.arange(1, n + 1),
            "age": age,
            "sex": sex,
            "postcode": postcode,
            "weight": weight,
            "height": height_cm,
            "admission_date": admission,
            "ethnicity": ethnicity,
            "diagnosis": np.array(DIAGNOSES)[idx],
        }
    )
    return df
