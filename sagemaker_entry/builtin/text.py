"""Task text to token ids without a tokenizer file: words hashed into a fixed number of buckets.

GR00T reads the task text with its VLM; the builtin engine has no language model (and may not download a
tokenizer), so each lower-cased word maps to ``1 + crc32(word) % (vocab - 1)`` (0 pads). Stable across
processes and Python versions, unlike ``hash()``.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


def text_ids(text: str, *, vocab: int, length: int) -> np.ndarray:
    """``(length,)`` int64 ids of the first ``length`` words of ``text``, zero-padded."""
    ids = np.zeros(length, dtype=np.int64)
    words = _WORD.findall(text.lower())[:length]
    for i, word in enumerate(words):
        ids[i] = 1 + zlib.crc32(word.encode()) % (vocab - 1)
    return ids


__all__ = ["text_ids"]
