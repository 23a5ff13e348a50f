"""Reading and writing the CSV / Parquet tables of the command line, with one-line errors."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSION = {".gz", ".bz2", ".zip", ".xz", ".zst"}


class CLIError(Exception):
    """A problem with the user's files or arguments: shown as one line, exit code 2."""


def _pandas():
    try:
        import pandas
    except ImportError:
        raise CLIError('the command line needs pandas: pip install "sklattn[cli]"') from None
    return pandas


def table_format(path: Path) -> str:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` from the file name (``.csv.gz`` is csv)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _FORMATS:
        return _FORMATS[suffixes[-1]]
    raise CLIError(
        f"{path} is neither CSV nor Parquet: use a file ending in .csv, .tsv or .parquet "
        "(optionally compressed, e.g. .csv.gz)."
    )


def _check_parquet_engine(path: Path) -> None:
    if not any(importlib.util.find_spec(name) for name in ("pyarrow", "fastparquet")):
        raise CLIError(f"reading or writing Parquet ({path}) needs pyarrow: pip install pyarrow")


def read_table(path: str | Path):
    """Load a CSV/TSV/Parquet file into a DataFrame; reject missing, unreadable or empty files."""
    pd = _pandas()
    path = Path(path)
    if not path.exists():
        raise CLIError(f"data file {path} does not exist.")
    if not path.is_file():
        raise CLIError(f"data file {path} is not a file.")
    kind = table_format(path)
    try:
        if kind == "parquet":
            _check_parquet_engine(path)
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except pd.errors.EmptyDataError:
        raise CLIError(f"data file {path} is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CLIError(f"cannot read {path} as {kind.upper()}: {first_line}") from None
    if len(frame) == 0:
        raise CLIError(f"data file {path} has a header but no rows.")
    return frame


def write_table(frame, path: str | Path) -> Path:
    """Write ``frame`` as CSV/TSV/Parquet (by suffix), creating the parent folder."""
    path = Path(path)
    kind = table_format(path)
    if kind == "parquet":
        _check_parquet_engine(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, sep="\t" if kind == "tsv" else ",", index=False)
    return path


def check_columns(frame, names: Sequence[str], path: str | Path, option: str) -> None:
    """Every name must be a column of ``frame``; the error lists the available ones."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        available = ", ".join(repr(str(c)) for c in frame.columns)
        raise CLIError(
            f"{option} column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} not found in {path}; available columns: {available}."
        )
