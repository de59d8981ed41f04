"""Stand-ins for Isaac-GR00T's policy classes, written as a ``gr00t`` package into a folder that a child
interpreter gets on its PYTHONPATH, so the inference check's GR00T path runs offline exactly as in the container
(``<python> -m sagemaker_entry.inference_check ...``).

Signatures and behaviour are GR00T's own:
* N1.5 ``gr00t/model/policy.py``: ``Gr00tPolicy(model_path, embodiment_tag, modality_config, modality_transform,
  denoising_steps=None, device=...)``; ``get_action(observations)`` treats the input as unbatched when a state has
  fewer than 3 dims, and ``squeeze_dict_values`` (``np.squeeze``) the result; ``DATA_CONFIG_MAP[name]
  .modality_config()`` / ``.transform()`` (gr00t/experiment/data_config.py, as scripts/inference_service.py uses it).
* N1.6 ``gr00t/policy/gr00t_policy.py``: ``Gr00tPolicy(embodiment_tag, model_path, *, device, strict=True)``;
  ``get_action(observation, options=None) -> (action, info)`` with ``check_observation``'s nested, batched format
  and ``(B, horizon, D)`` float32 actions; ``gr00t/data/embodiment_tags.py`` ``EmbodimentTag`` (str enum).

The "model" answers a (horizon, D) chunk per action part; widths come from ``ACTION_DIMS`` written beside it.
"""

from __future__ import annotations

from pathlib import Path

_N15 = '''
import json, os
import numpy as np
from pathlib import Path

def _dims():
    return json.loads(Path(os.environ["STANDIN_ACTION_DIMS"]).read_text())

class Gr00tPolicy:
    def __init__(self, model_path, embodiment_tag, modality_config, modality_transform, denoising_steps=None,
                 device="cpu"):
        if not Path(model_path, "experiment_cfg", "metadata.json").is_file():
            raise FileNotFoundError(f"{model_path}/experiment_cfg/metadata.json")
        self.modality_config = modality_config
        self.embodiment_tag = embodiment_tag

    def get_action(self, observations):
        batched = all(len(v.shape) >= 3 for k, v in observations.items() if "state" in k)
        assert not batched
        for key in self.modality_config["video"]:
            v = observations[key]
            assert v.dtype == np.uint8 and v.ndim == 4 and v.shape[-1] == 3, (key, v.shape)
        for key in self.modality_config["state"]:
            assert observations[key].ndim == 2, (key, observations[key].shape)
        assert isinstance(observations[self.modality_config["language"][0]], list)
        out = {k: np.full((1, 16, d), 0.5, np.float32) for k, d in _dims().items()}
        return {k: np.squeeze(v) for k, v in out.items()}  # squeeze_dict_values
'''

_DATA_CONFIG = '''
class _So100DualCam:
    def modality_config(self):
        return {"video": ["video.front", "video.wrist"], "state": ["state.single_arm", "state.gripper"],
                "language": ["annotation.human.task_description"]}
    def transform(self):
        return object()

DATA_CONFIG_MAP = {"so100_dualcam": _So100DualCam()}
'''

_N16 = '''
import json, os
import numpy as np
from pathlib import Path

class Gr00tPolicy:
    def __init__(self, embodiment_tag, model_path, *, device, strict=True):
        self.embodiment_tag = embodiment_tag
        self.model_path = Path(model_path)

    def get_action(self, observation, options=None):
        for modality in ("video", "state", "language"):
            assert isinstance(observation[modality], dict), modality
        for k, v in observation["video"].items():
            assert v.dtype == np.uint8 and v.ndim == 5 and v.shape[:2] == (1, 1), (k, v.shape)
        for k, v in observation["state"].items():
            assert v.dtype == np.float32 and v.ndim == 3, (k, v.shape)
        for k, v in observation["language"].items():
            assert isinstance(v, list) and isinstance(v[0], list) and isinstance(v[0][0], str), k
        dims = json.loads(Path(os.environ["STANDIN_ACTION_DIMS"]).read_text())
        return {k.split(".", 1)[1]: np.zeros((1, 16, d), np.float32) for k, d in dims.items()}, {}
'''

_TAGS = '''
from enum import Enum

class EmbodimentTag(Enum):
    NEW_EMBODIMENT = "new_embodiment"
    GR1 = "gr1"
'''


def write_gr00t_package(root: Path) -> Path:
    files = {
        "gr00t/__init__.py": "", "gr00t/model/__init__.py": "", "gr00t/model/policy.py": _N15,
        "gr00t/experiment/__init__.py": "", "gr00t/experiment/data_config.py": _DATA_CONFIG,
        "gr00t/policy/__init__.py": "", "gr00t/policy/gr00t_policy.py": _N16,
        "gr00t/data/__init__.py": "", "gr00t/data/embodiment_tags.py": _TAGS,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root
