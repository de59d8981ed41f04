"""Issue #11 §4: the cameras' codecs decide which GR00T video backend can be used."""

import json
from pathlib import Path

import pytest

from gr00t_core.data_configs import backend_problem
from gr00t_data.preflight import run_preflight
from gr00t_data.synthetic import generate_dataset
from gr00t_data.video import encoder_for


def test_decord_never_gets_av1() -> None:
    problem = backend_problem("decord", {"observation.images.front": "av1", "observation.images.wrist": "h264"})
    assert problem and "'decord' cannot decode observation.images.front (av1)" in problem and "'torchvision_av'" in problem
    assert backend_problem("decord", {"observation.images.front": "h264"}) is None
    assert backend_problem("torchvision_av", {"observation.images.front": "av1"}) is None


@pytest.mark.skipif(encoder_for("av1") is None, reason="this PyAV build has no AV1 encoder")
@pytest.mark.parametrize("backend, ready", [("decord", False), ("torchvision_av", True)])
def test_preflight_refuses_a_backend_that_cannot_decode_the_recording(tmp_path: Path, backend: str, ready: bool) -> None:
    asset = tmp_path / "asset"
    generate_dataset(asset / "dataset", layout="so100", codec="av1", episodes=1, frames_per_episode=6, width=32, height=24)
    (asset / "gr00t_config.json").write_text(json.dumps({"dataConfig": "so100", "videoBackend": backend}))
    result = run_preflight(asset)
    assert result.dataset["cameras"] == {"observation.images.webcam": "av1"}
    assert result.ready is ready, result.errors
    if not ready:
        assert any("videoBackend 'decord' cannot decode observation.images.webcam (av1)" in e for e in result.errors)
