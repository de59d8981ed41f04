import json

import pytest

from gr00t_core.errors import ConfigError
from sagemaker_entry.builtin.settings import ModelOptions, ignored_parameters, read_request, typed_config


def test_missing_parameters_take_defaults_and_strings_are_coerced():
    config = typed_config({"maxSteps": "250", "tuneVisual": "true", "learningRate": "3e-4", "instanceType": "ml.g6e.xlarge"})
    assert config["maxSteps"] == 250 and config["tuneVisual"] is True and config["learningRate"] == 3e-4
    assert config["batchSize"] == 32 and config["evalEpisodes"] == 1
    assert "instanceType" not in config  # the launcher's business, not the engine's


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        typed_config({"maxSteps": "many", "loraRank": -1, "videoBackend": "ffmpeg"})
    text = str(info.value)
    assert "maxSteps" in text and "loraRank" in text and "videoBackend" in text


def test_nothing_to_train_is_refused():
    with pytest.raises(ConfigError, match="nothing would be trained"):
        typed_config({"tuneVisual": False, "tuneProjector": False, "tuneDiffusionModel": False})


@pytest.mark.parametrize(
    "config,loaded,expected",
    [
        ({}, False, ["baseModelPath"]),
        ({}, True, []),
        ({"tuneLlm": True}, True, ["tuneLlm"]),
        ({"videoBackend": "decord"}, True, ["videoBackend"]),
        ({"videoBackend": "torchvision_av"}, True, []),  # PyAV is what torchvision_av decodes with
        ({"dataConfig": "my_configs:Arm"}, True, ["dataConfig"]),
    ],
)
def test_ignored_parameters(config, loaded, expected):
    ignored = ignored_parameters(typed_config(config), base_model_loaded=loaded)
    assert sorted(ignored) == expected
    for name, sentence in ignored.items():
        assert sentence.startswith(f"{name}=") and "ignored" in sentence


def test_request_file_errors_name_the_file(tmp_path):
    path = tmp_path / "request.json"
    with pytest.raises(ConfigError, match="request file not found"):
        read_request(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_request(path)
    path.write_text(json.dumps({"dataset_dir": "/d"}))
    with pytest.raises(ConfigError, match="output_dir is required"):
        read_request(path)
    path.write_text(json.dumps({"dataset_dir": "/d", "output_dir": "/o", "engine_options": {"imagesize": 3}}))
    with pytest.raises(ConfigError, match="unknown key.*imagesize"):
        read_request(path)


def test_request_round_trip(tmp_path):
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"dataset_dir": "/d", "output_dir": "/o", "config": {"maxSteps": 40},
                                "resume_from_checkpoint": "/o/checkpoint-20", "engine_options": {"hidden_size": 64}}))
    request = read_request(path)
    assert request.config["maxSteps"] == 40 and str(request.resume_from_checkpoint) == "/o/checkpoint-20"
    assert request.base_model_dir is None and request.options.hidden_size == 64
    assert request.logging_steps == 4  # maxSteps // 10, at most 10


@pytest.mark.parametrize(
    "options,problem",
    [({"image_size": 40, "patch_size": 16}, "multiple of patch_size"), ({"hidden_size": 66}, "multiple of heads"),
     ({"layers": 0}, "layers must be at least 1")],
)
def test_model_options_are_checked(options, problem):
    with pytest.raises(ConfigError, match=problem):
        ModelOptions.from_dict(options)


@pytest.mark.parametrize(
    "content,problem",
    [
        ({"dataset_dirs": [], "output_dir": "/o"}, r"request\.json: dataset_dirs must be a non-empty list"),
        ({"dataset_dirs": ["/a", ""], "output_dir": "/o"}, "non-empty list of folder paths"),
        ({"dataset_dirs": ["/a"], "dataset_dir": "/b", "output_dir": "/o"}, "dataset_dir '/b' is not the first of dataset_dirs"),
        ({"output_dir": "/o"}, "dataset_dirs is required"),
        ({"dataset_dirs": ["/a"], "output_dir": "/o", "config": [1]}, "config must be an object of parameter name -> value"),
        ({"dataset_dirs": ["/a"], "output_dir": "/o", "config": {"maxSteps": "many"}}, "maxSteps: expected an integer"),
        ([1, 2], "must hold a JSON object"),
    ],
)
def test_request_file_is_typed_and_every_refusal_names_the_file(tmp_path, content, problem):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=problem) as info:
        read_request(path)
    assert "request.json" in str(info.value) or "maxSteps" in str(info.value)


def test_request_file_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "request.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"dataset_dirs": ["/a", "/b"], "output_dir": "/o"}).encode())
    assert [str(p) for p in read_request(path).dataset_dirs] == ["/a", "/b"]
