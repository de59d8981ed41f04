"""GR00T N1.5 data configs (``DATA_CONFIG_MAP``) and the modality.json layouts this project can create.

Keys and modality names come from Isaac-GR00T N1.5 (https://github.com/NVIDIA/Isaac-GR00T, gr00t/experiment/data_config.py). A data config names the
video/state/action/language keys GR00T will look up in ``meta/modality.json``; a *layout* additionally fixes
the state/action index ranges and the video source columns, which is what is needed to write a missing
modality.json. Only configs whose recording layout is known have one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

ACTION_HORIZON = 16  # GR00T N1.5: action indices 0..15 for every data config
OBSERVATION_INDICES = (0,)
MAX_STATE_DIM = 64
MAX_ACTION_DIM = 32


@dataclass(frozen=True)
class DataConfig:
    name: str
    video_keys: tuple[str, ...]  # "video.<name>"
    state_keys: tuple[str, ...]  # "state.<name>"
    action_keys: tuple[str, ...]  # "action.<name>"
    language_key: str  # "annotation.<name>"
    # modality.json content to create when the dataset has none; None = layout unknown, the user must supply it.
    modality_template: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def video_names(self) -> tuple[str, ...]:
        return tuple(k.split(".", 1)[1] for k in self.video_keys)

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(k.split(".", 1)[1] for k in self.state_keys)

    @property
    def action_names(self) -> tuple[str, ...]:
        return tuple(k.split(".", 1)[1] for k in self.action_keys)

    @property
    def annotation_name(self) -> str:
        return self.language_key.split(".", 1)[1]

    def modality_json(self) -> dict[str, Any] | None:
        """A fresh copy of the modality.json to write, or None when this config has no known layout."""
        return copy.deepcopy(self.modality_template) if self.modality_template is not None else None


def _ranges(parts: list[tuple[str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    start = 0
    for name, width in parts:
        out[name] = {"start": start, "end": start + width}
        start += width
    return out


def _layout(
    state: list[tuple[str, int]],
    action: list[tuple[str, int]],
    cameras: dict[str, str],
    annotation: str,
) -> dict[str, Any]:
    return {
        "state": _ranges(state),
        "action": _ranges(action),
        "video": {name: {"original_key": column} for name, column in cameras.items()},
        "annotation": {annotation: {"original_key": "task_index"}},
    }


_SO100_ARM = [("single_arm", 5), ("gripper", 1)]
# NVIDIA's GR1 demo data lays state and action out as 44 values in this order (parts as in
# NVIDIA/Isaac-GR00T demo_data/robot_sim.PickNPlace/meta/modality.json @16d0dae38c82ab06ad03b4cdaeeb0bcad36ac702,
# widths from its meta/info.json @6d8a53bfc08056b950611b244881679c49091935: observation.state/action float64[44]).
_GR1_DEMO = [
    ("left_arm", 7), ("left_hand", 6), ("left_leg", 6), ("neck", 3),
    ("right_arm", 7), ("right_hand", 6), ("right_leg", 6), ("waist", 3),
]
_GR1_EGO = {"ego_view": "observation.images.ego_view"}
# The demo's annotation entries carry no original_key: GR00T then reads the int64 column "annotation.<name>",
# whose values index meta/tasks.jsonl.
_GR1_ANNOTATIONS = ("human.action.task_description", "human.validity")

# Where each template was checked (NVIDIA/Isaac-GR00T path @ commit); configs missing here have no published
# layout, so preflight asks for the user's own modality.json and shows an example.
TEMPLATE_SOURCES = {
    "so100": "getting_started/examples/so100__modality.json @16d0dae38c82ab06ad03b4cdaeeb0bcad36ac702",
    "so100_dualcam": (
        "getting_started/examples/so100__modality.json @16d0dae38c82ab06ad03b4cdaeeb0bcad36ac702 with the two "
        "cameras (front, wrist) of N1.5's So100DualCamDataConfig"
    ),
    "fourier_gr1_arms_only": "demo_data/robot_sim.PickNPlace/meta/modality.json @16d0dae38c82ab06ad03b4cdaeeb0bcad36ac702",
}


def _gr1_demo_layout() -> dict[str, Any]:
    layout = _layout(_GR1_DEMO, _GR1_DEMO, _GR1_EGO, _GR1_ANNOTATIONS[0])
    layout["annotation"] = {name: {} for name in _GR1_ANNOTATIONS}
    return layout


def _keys(prefix: str, names: list[str]) -> tuple[str, ...]:
    return tuple(f"{prefix}.{n}" for n in names)


_REGISTRY: list[DataConfig] = [
    DataConfig(
        "so100",
        ("video.webcam",),
        _keys("state", ["single_arm", "gripper"]),
        _keys("action", ["single_arm", "gripper"]),
        "annotation.human.task_description",
        _layout(_SO100_ARM, _SO100_ARM, {"webcam": "observation.images.webcam"}, "human.task_description"),
    ),
    DataConfig(
        "so100_dualcam",
        ("video.front", "video.wrist"),
        _keys("state", ["single_arm", "gripper"]),
        _keys("action", ["single_arm", "gripper"]),
        "annotation.human.task_description",
        _layout(
            _SO100_ARM,
            _SO100_ARM,
            {"front": "observation.images.front", "wrist": "observation.images.wrist"},
            "human.task_description",
        ),
    ),
    DataConfig(
        "fourier_gr1_arms_only",
        ("video.ego_view",),
        _keys("state", ["left_arm", "right_arm", "left_hand", "right_hand"]),
        _keys("action", ["left_arm", "right_arm", "left_hand", "right_hand"]),
        "annotation.human.action.task_description",
        _gr1_demo_layout(),
    ),
    DataConfig(
        "fourier_gr1_arms_waist",
        ("video.ego_view",),
        _keys("state", ["left_arm", "right_arm", "left_hand", "right_hand", "waist"]),
        _keys("action", ["left_arm", "right_arm", "left_hand", "right_hand", "waist"]),
        "annotation.human.coarse_action",
    ),
    DataConfig(
        "fourier_gr1_full_upper_body",
        ("video.front_view",),
        _keys("state", ["left_arm", "right_arm", "left_hand", "right_hand", "waist", "neck"]),
        _keys("action", ["left_arm", "right_arm", "left_hand", "right_hand", "waist", "neck"]),
        "annotation.human.action.task_description",
    ),
    DataConfig(
        "bimanual_panda_gripper",
        ("video.right_wrist_view", "video.left_wrist_view", "video.front_view"),
        _keys(
            "state",
            [
                "right_arm_eef_pos",
                "right_arm_eef_quat",
                "right_gripper_qpos",
                "left_arm_eef_pos",
                "left_arm_eef_quat",
                "left_gripper_qpos",
            ],
        ),
        _keys(
            "action",
            ["right_arm_eef_pos", "right_arm_eef_rot", "right_gripper_close", "left_arm_eef_pos", "left_arm_eef_rot", "left_gripper_close"],
        ),
        "annotation.human.action.task_description",
    ),
    DataConfig(
        "bimanual_panda_hand",
        ("video.right_wrist_view", "video.left_wrist_view", "video.ego_view"),
        _keys(
            "state",
            ["right_arm_eef_pos", "right_arm_eef_quat", "right_hand", "left_arm_eef_pos", "left_arm_eef_quat", "left_hand"],
        ),
        _keys(
            "action",
            ["right_arm_eef_pos", "right_arm_eef_rot", "right_hand", "left_arm_eef_pos", "left_arm_eef_rot", "left_hand"],
        ),
        "annotation.human.action.task_description",
    ),
    DataConfig(
        "single_panda_gripper",
        ("video.left_view", "video.right_view", "video.wrist_view"),
        _keys("state", ["end_effector_position_relative", "end_effector_rotation_relative", "gripper_qpos", "base_position", "base_rotation"]),
        _keys("action", ["end_effector_position", "end_effector_rotation", "gripper_close", "base_motion", "control_mode"]),
        "annotation.human.action.task_description",
    ),
    DataConfig(
        "unitree_g1",
        ("video.rs_view",),
        _keys("state", ["left_arm", "right_arm", "left_hand", "right_hand"]),
        _keys("action", ["left_arm", "right_arm", "left_hand", "right_hand"]),
        "annotation.human.task_description",
    ),
    DataConfig(
        "unitree_g1_full_body",
        ("video.rs_view",),
        _keys("state", ["left_leg", "right_leg", "waist", "left_arm", "right_arm", "left_hand", "right_hand"]),
        _keys("action", ["left_arm", "right_arm", "left_hand", "right_hand"]),
        "annotation.human.task_description",
    ),
    DataConfig(
        "oxe_droid",
        ("video.exterior_image_1", "video.exterior_image_2", "video.wrist_image"),
        _keys("state", ["eef_position", "eef_rotation", "gripper_position"]),
        _keys("action", ["eef_position_delta", "eef_rotation_delta", "gripper_position"]),
        "annotation.language.language_instruction",
    ),
    DataConfig(
        "agibot_genie1",
        ("video.top_head", "video.hand_left", "video.hand_right"),
        _keys(
            "state",
            [
                "left_arm_joint_position",
                "right_arm_joint_position",
                "left_effector_position",
                "right_effector_position",
                "head_position",
                "waist_position",
            ],
        ),
        _keys(
            "action",
            [
                "left_arm_joint_position",
                "right_arm_joint_position",
                "left_effector_position",
                "right_effector_position",
                "head_position",
                "waist_position",
                "robot_velocity",
            ],
        ),
        "annotation.language.action_text",
    ),
]

DATA_CONFIGS: dict[str, DataConfig] = {c.name: c for c in _REGISTRY}

# Names people try that do not exist in N1.5 (the seed docs listed them): give a pointed message.
NONEXISTENT_CONFIGS = {
    "agibot_genie1_dualcam": "agibot_genie1",
    "oxe_droid_single_cam": "oxe_droid",
}


def is_custom_config(name: str) -> bool:
    """A ``module:Class`` reference to a user's own data config class (GR00T accepts these)."""
    module, sep, cls = name.partition(":")
    return bool(sep and module and cls and all(p.isidentifier() for p in module.split(".")) and cls.isidentifier())


def example_modality(config: DataConfig) -> dict[str, Any]:
    """A modality.json showing every key ``config`` reads, for configs without a published layout.

    Ranges are placeholders one value wide: the user sets each part's start/end to where it lies in
    observation.state / action, and each camera's original_key to the recorded column.
    """
    cameras = {name: f"observation.images.{name}" for name in config.video_names}
    state, action = [(n, 1) for n in config.state_names], [(n, 1) for n in config.action_names]
    return _layout(state, action, cameras, config.annotation_name)


# Codecs each GR00T N1.5 video backend cannot decode. decord's wheels bundle an FFmpeg without an AV1 decoder
# (https://github.com/NVIDIA/Isaac-GR00T/blob/main/gr00t/data/video.py, Isaac-GR00T issue #342 and the SO-101 AV1 reports), and AV1 is what LeRobot
# records by default; torchvision_av (PyAV) and torchcodec use the FFmpeg they are built against.
UNDECODABLE_BY_BACKEND: dict[str, frozenset[str]] = {"decord": frozenset({"av1"})}
DECODES_EVERYTHING_WE_SHIP = "torchvision_av"  # PyAV with the image's FFmpeg (libdav1d): h264, hevc and av1


def backend_problem(backend: str, codecs: dict[str, str | None]) -> str | None:
    """Why ``videoBackend`` cannot decode these cameras (camera -> codec), with the fix; None when it can."""
    bad = {camera: codec for camera, codec in codecs.items() if codec in UNDECODABLE_BY_BACKEND.get(backend, ())}
    if not bad:
        return None
    shown = ", ".join(f"{camera} ({codec})" for camera, codec in sorted(bad.items()))
    return (
        f"videoBackend {backend!r} cannot decode {shown}; set videoBackend to {DECODES_EVERYTHING_WE_SHIP!r} "
        "(or re-encode the videos to h264)"
    )


def custom_config_file(name: str) -> str:
    """Where a ``module:Class`` config's source lives, relative to the asset root: ``pkg/mod.py`` for ``pkg.mod``.

    The file travels with the asset so the trainer can import it (GR00T N1.5 imports ``module`` and takes
    ``Class`` from it when --data-config holds a colon).
    """
    return name.partition(":")[0].replace(".", "/") + ".py"


def get_data_config(name: str) -> DataConfig | None:
    """The registered config, or None for a custom ``module:Class`` config (its keys are unknown here)."""
    return DATA_CONFIGS.get(name)
