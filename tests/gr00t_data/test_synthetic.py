import json
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gr00t_core.data_configs import DATA_CONFIGS
from gr00t_data.synthetic import generate_dataset, main
from gr00t_data.video import encoder_for, probe_video, read_frames


def _episode(root: Path, ep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = pq.read_table(root / f"data/chunk-000/episode_{ep:06d}.parquet")
    state = np.array(table.column("observation.state").to_pylist(), dtype=np.float64)
    action = np.array(table.column("action").to_pylist(), dtype=np.float64)
    return state, action, table.column("task_index").to_numpy()


def test_v21_dualcam_layout_on_disk(dualcam: Path) -> None:
    info = json.loads((dualcam / "meta/info.json").read_text())
    assert info["codebase_version"] == "v2.1"
    assert info["total_episodes"] == 2 and info["total_frames"] == 40 and info["total_videos"] == 4
    assert info["features"]["observation.state"]["shape"] == [6]
    assert info["features"]["observation.images.front"]["info"]["video.codec"] == "h264"
    episodes = [json.loads(line) for line in (dualcam / "meta/episodes.jsonl").read_text().splitlines()]
    assert [e["length"] for e in episodes] == [20, 20]
    assert len((dualcam / "meta/episodes_stats.jsonl").read_text().splitlines()) == 2
    assert not (dualcam / "meta/modality.json").exists() and not (dualcam / "meta/stats.json").exists()
    table = pq.read_table(dualcam / "data/chunk-000/episode_000001.parquet")
    assert table.column("index").to_pylist()[0] == 20  # global frame index continues across episodes
    for cam in ("front", "wrist"):
        video = dualcam / f"videos/chunk-000/observation.images.{cam}/episode_000000.mp4"
        probe = probe_video(video)
        assert (probe.codec, probe.width, probe.height, probe.frames) == ("h264", 32, 24, 20)


def test_actions_follow_the_state_toward_a_per_task_target(tmp_path: Path) -> None:
    root = generate_dataset(tmp_path / "d", layout="so100", episodes=4, frames_per_episode=40, width=32, height=24)
    rows = [_episode(root, ep) for ep in range(4)]
    state = np.concatenate([r[0] for r in rows])
    action = np.concatenate([r[1] for r in rows])
    tasks = np.concatenate([r[2] for r in rows])
    delta = action - state  # the motion the policy must predict

    def unexplained(features: np.ndarray) -> float:
        coef, *_ = np.linalg.lstsq(features, delta, rcond=None)
        return float((delta - features @ coef).var() / delta.var())

    with_task = unexplained(np.hstack([state, np.eye(tasks.max() + 1)[tasks]]))
    state_only = unexplained(np.hstack([state, np.ones((len(state), 1))]))
    assert with_task < 0.1  # state + task explain the motion up to the noise: learnable
    assert state_only > 1.5 * with_task  # the task (language) carries information the state lacks


def test_rotation_actions_are_one_linear_map_of_the_state(tmp_path: Path) -> None:
    root = generate_dataset(tmp_path / "d", layout="so100", episodes=3, frames_per_episode=30, width=32, height=24,
                            write_videos=False, dynamics="rotation")
    rows = [_episode(root, ep) for ep in range(3)]
    state = np.concatenate([r[0] for r in rows]).astype(np.float64)
    action = np.concatenate([r[1] for r in rows]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(state, action, rcond=None)
    assert np.abs(action - state @ coef).max() < 1e-3  # exact, no noise, no task: the state alone decides
    assert np.allclose(rows[0][0][1:], rows[0][1][:-1])  # the next state is the action
    assert ((action - state) ** 2).mean() > 0.01 * (state**2).mean()  # repeating the state is a poor guess


def test_frames_encode_the_state(tmp_path: Path) -> None:
    root = generate_dataset(tmp_path / "d", layout="so100", episodes=3, frames_per_episode=30, width=64, height=48)
    states, centroids = [], []
    for ep in range(3):
        states.append(_episode(root, ep)[0])
        video = root / f"videos/chunk-000/observation.images.webcam/episode_{ep:06d}.mp4"
        frames = read_frames(video).astype(np.float64)
        bright = (frames[..., 0] > 180) & (frames[..., 1] > 160) & (frames[..., 2] < 140)  # the yellow square
        ys, xs = np.indices(bright.shape[1:])
        count = bright.sum(axis=(1, 2))
        centroids.append(np.stack([(bright * xs).sum(axis=(1, 2)) / count, (bright * ys).sum(axis=(1, 2)) / count], 1))
    state, centroid = np.concatenate(states), np.concatenate(centroids)
    # The bright square's centroid follows joints 0 (x) and 1 (y).
    assert np.corrcoef(centroid[:, 0], state[:, 0])[0, 1] > 0.95
    assert np.corrcoef(centroid[:, 1], state[:, 1])[0, 1] > 0.95


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    kw = {"episodes": 2, "frames_per_episode": 10, "width": 32, "height": 24}
    a, b, c = (generate_dataset(tmp_path / n, seed=s, **kw) for n, s in (("a", 1), ("b", 1), ("c", 2)))
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert not np.allclose(_episode(a, 0)[0], _episode(c, 0)[0])


def test_encoder_input_rows_are_zero_padded() -> None:
    # x264 reads the row padding of its input planes, which FFmpeg leaves uninitialised: the same frames then
    # encoded to different bytes now and then (seen in this suite). The encoder input has zeroed padding.
    from gr00t_data.video import yuv420p_frame

    image = np.random.default_rng(0).integers(0, 255, (24, 30, 3), dtype=np.uint8)
    frame = yuv420p_frame(image)
    reference = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    for plane, ref in zip(frame.planes, reference.planes, strict=True):
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: plane.height]
        ref_rows = np.frombuffer(ref, np.uint8).reshape(-1, ref.line_size)[: ref.height]
        assert plane.line_size > plane.width  # there is padding to clean
        assert not rows[:, plane.width :].any()
        assert np.array_equal(rows[:, : plane.width], ref_rows[:, : plane.width])


def test_gr1_v20_and_extras(tmp_path: Path) -> None:
    root = generate_dataset(
        tmp_path / "gr1", layout="fourier_gr1_arms_only", episodes=2, frames_per_episode=12, width=32, height=24,
        version="v2.0", write_modality=True, write_stats=True,
    )
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v2.0" and not (root / "meta/episodes_stats.jsonl").exists()
    assert "video_info" in info["features"]["observation.images.ego_view"]
    assert json.loads((root / "meta/modality.json").read_text()) == DATA_CONFIGS["fourier_gr1_arms_only"].modality_json()
    stats = json.loads((root / "meta/stats.json").read_text())
    assert len(stats["observation.state"]["q99"]) == 44  # NVIDIA's GR1 demo layout
    table = pq.read_table(root / "data/chunk-000/episode_000001.parquet")
    # As in NVIDIA's demo: annotation columns are int64 indexes into tasks.jsonl, validity -> the "valid" entry.
    assert table.schema.field("annotation.human.action.task_description").type == pa.int64()
    tasks = [json.loads(line) for line in (root / "meta/tasks.jsonl").read_text().splitlines()]
    valid = table.column("annotation.human.validity").to_pylist()[0]
    assert tasks[valid]["task"] == "valid"


@pytest.mark.skipif(encoder_for("av1") is None, reason="this PyAV build has no AV1 encoder")
def test_av1_videos(tmp_path: Path) -> None:
    root = generate_dataset(tmp_path / "d", layout="so100", episodes=1, frames_per_episode=8, codec="av1", width=32, height=24)
    probe = probe_video(root / "videos/chunk-000/observation.images.webcam/episode_000000.mp4")
    assert probe.codec == "av1"
    info = json.loads((root / "meta/info.json").read_text())
    assert info["features"]["observation.images.webcam"]["info"]["video.codec"] == "av1"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layout": "so101"}, "unknown layout"),
        ({"version": "v3.0"}, "unsupported version"),
        ({"width": 33}, "even"),
        ({"codec": "nosuchcodec"}, "encoder"),
        ({"episodes": 0}, "at least one episode"),
        ({"dynamics": "chaos"}, "unknown dynamics"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        generate_dataset(tmp_path / "d", **kwargs)


def test_refuses_to_write_over_a_dataset(dualcam: Path) -> None:
    before = (dualcam / "meta/info.json").read_bytes()
    with pytest.raises(FileExistsError):
        generate_dataset(dualcam)
    assert (dualcam / "meta/info.json").read_bytes() == before


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main([str(out), "--layout", "so100", "--episodes", "1", "--frames", "5", "--width", "32", "--height", "24"]) == 0
    assert (out / "videos/chunk-000/observation.images.webcam/episode_000000.mp4").is_file()
    assert main([str(out)]) == 2
    assert "already holds a dataset" in capsys.readouterr().err
