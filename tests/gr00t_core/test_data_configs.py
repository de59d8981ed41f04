import itertools

import pytest

from gr00t_core.data_configs import DATA_CONFIGS, get_data_config, is_custom_config

EXPECTED_SO100_DUALCAM = {
    "state": {"single_arm": {"start": 0, "end": 5}, "gripper": {"start": 5, "end": 6}},
    "action": {"single_arm": {"start": 0, "end": 5}, "gripper": {"start": 5, "end": 6}},
    "video": {"front": {"original_key": "observation.images.front"}, "wrist": {"original_key": "observation.images.wrist"}},
    "annotation": {"human.task_description": {"original_key": "task_index"}},
}


def test_registry_holds_exactly_the_n15_keys():
    assert set(DATA_CONFIGS) == {
        "fourier_gr1_arms_waist", "fourier_gr1_arms_only", "fourier_gr1_full_upper_body", "bimanual_panda_gripper",
        "bimanual_panda_hand", "single_panda_gripper", "so100", "so100_dualcam", "unitree_g1",
        "unitree_g1_full_body", "oxe_droid", "agibot_genie1",
    }


def test_so100_dualcam_modality_is_the_reference_content():
    assert DATA_CONFIGS["so100_dualcam"].modality_json() == EXPECTED_SO100_DUALCAM


def test_so100_uses_a_single_webcam():
    assert DATA_CONFIGS["so100"].modality_json()["video"] == {"webcam": {"original_key": "observation.images.webcam"}}


@pytest.mark.parametrize("name", [n for n, c in DATA_CONFIGS.items() if c.modality_template])
def test_every_template_covers_the_configs_keys_with_contiguous_ranges(name):
    config = DATA_CONFIGS[name]
    template = config.modality_json()
    assert set(template["video"]) == set(config.video_names)
    # a template may describe more parts than the config reads (NVIDIA's GR1 demo: legs and neck too)
    assert set(config.state_names) <= set(template["state"])
    assert set(config.action_names) <= set(template["action"])
    assert config.annotation_name in template["annotation"]
    for part in ("state", "action"):
        ranges = sorted((r["start"], r["end"]) for r in template[part].values())
        assert ranges[0][0] == 0 and all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_templates_are_copies():
    DATA_CONFIGS["so100"].modality_json()["state"].clear()
    assert DATA_CONFIGS["so100"].modality_json()["state"]


def test_custom_configs():
    assert is_custom_config("my_pkg.configs:MyConfig")
    assert not is_custom_config("so100") and not is_custom_config("a:b:c") and not is_custom_config(":X")
    assert get_data_config("my_pkg:Cfg") is None
