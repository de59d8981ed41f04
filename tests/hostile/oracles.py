"""What every generated case is checked against, from the real services' own definitions.

SageMaker's CreateTrainingJob patterns are Java regular expressions (botocore/data/sagemaker/2017-07-24/
service-2.json: TagKey / TagValue ``([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)``, TagKey 1-128, TagValue 0-256,
HyperParameterValue at most 2500, TrainingJobName ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``). Java's ``\\p{Z}`` is the
Unicode separator category (Zs/Zl/Zp): a space is one, tab, newline and U+0085 (category Cc) are not. The oracle
reads Unicode categories directly (unicodedata), independently of the project's own translation in
launcher/orchestration/limits.py, so a wrong translation there shows up here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

_TAG_PUNCTUATION = set("_.:/=+-@")
_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


def sagemaker_tag_text_ok(text: str) -> bool:
    return all(unicodedata.category(ch)[0] in "LZN" or ch in _TAG_PUNCTUATION for ch in text)


def has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, Mapping):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_lone_surrogate(v) for v in value)
    return False


def request_breaks_sagemaker(name: str, tags: Iterable[Mapping[str, str]], hyperparameters: Mapping[str, str]) -> list[str]:
    """Every way a CreateTrainingJob that was sent breaks SageMaker's own rules (empty when it is fine)."""
    problems = []
    if not _JOB_NAME.fullmatch(name):
        problems.append(f"TrainingJobName {name!r}")
    for tag in tags:
        key, value = tag["Key"], tag["Value"]
        if not (1 <= len(key) <= 128 and sagemaker_tag_text_ok(key)):
            problems.append(f"tag key {key!r}")
        if not (len(value) <= 256 and sagemaker_tag_text_ok(value)):
            problems.append(f"tag {key} value {value!r}")
    for key, value in hyperparameters.items():
        if len(key) > 256 or len(value) > 2500:
            problems.append(f"hyperparameter {key!r} too long")
    if has_lone_surrogate({"tags": list(tags), "hp": dict(hyperparameters)}):
        problems.append("a lone surrogate (not UTF-8)")
    return problems


def names_field(message: str, path: tuple[str, ...]) -> bool:
    """The refusal names the mutated member: one of the keys on its path (a parameter by its name or its metadata
    key), or for a value deep inside a JSON-string member that member itself."""
    text = message.lower()
    for i, key in enumerate(path):
        if not key or (key == "body" and i < len(path) - 1):  # every event message says "body."
            continue
        candidates = {key.lower()}
        if key.startswith("GROOT_"):  # metadata keys are GROOT_ + UPPER_SNAKE of the parameter name
            parts = key[len("GROOT_"):].lower().split("_")
            candidates.add(parts[0] + "".join(p.title() for p in parts[1:]))
        if any(c.lower() in text for c in candidates):
            return True
    return False
