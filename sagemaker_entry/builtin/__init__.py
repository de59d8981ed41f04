"""The builtin training engine (``engine=builtin``): a compact GR00T-style flow-matching policy that trains for
real on a CPU (and on a GPU when there is one), with transformers, peft and PyAV.

Training: ``python -m sagemaker_entry.builtin.train --request FILE`` (see :mod:`.train`, :mod:`.settings`).
Inference: ``load_policy(checkpoint_dir).get_action(obs)`` with GR00T's observation dict (see :mod:`.policy`).

Importing this package is cheap: torch is imported when a policy is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sagemaker_entry.builtin.policy import Policy


def load_policy(checkpoint_dir: str | Path, *, device: Any = None, seed: int = 0) -> Policy:
    """Load a builtin checkpoint (``checkpoint-N/``) for inference; see :class:`sagemaker_entry.builtin.policy.Policy`."""
    from sagemaker_entry.builtin.policy import load_policy as _load

    return _load(checkpoint_dir, device=device, seed=seed)


__all__ = ["load_policy"]
