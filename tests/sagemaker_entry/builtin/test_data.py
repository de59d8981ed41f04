import av
import numpy as np
import pytest
from torch.utils.data import DataLoader

from gr00t_data.video import read_frames, write_video
from sagemaker_entry.builtin.data import ChunkDataset, EpisodeWindowSampler, collate
from sagemaker_entry.builtin.frames import FrameCache, FrameDecodeError, decode_episode
from sagemaker_entry.builtin.lerobot import LeRobotDataset
from sagemaker_entry.builtin.normalize import normalize

SIZE = 32


def _dataset(root, episodes=(0, 1, 2, 3), cache_mb=16):
    source = LeRobotDataset(root, "so100_dualcam")
    return ChunkDataset(source, list(episodes), image_size=SIZE, text_vocab=512, text_tokens=8,
                        frame_cache_bytes=cache_mb * 2**20)


def test_a_sample_is_the_observation_at_t_and_the_action_chunk_from_t(dataset_dir):
    ds = _dataset(dataset_dir)
    source, b = ds.source, ds.source.bounds
    ep = source.load_episode(1)
    index = 40 + 5  # episode 1, frame 5
    sample = ds[index]
    assert sample["images"].shape == (2, SIZE, SIZE, 3) and sample["images"].dtype == np.uint8
    np.testing.assert_allclose(sample["state"], normalize(ep.state[5], b.state_min, b.state_max), atol=1e-6)
    np.testing.assert_allclose(sample["actions"], normalize(ep.action[5:21], b.action_min, b.action_max), atol=1e-6)
    assert sample["actions"].shape == (16, 6) and np.abs(sample["actions"]).max() <= 1.0
    assert (sample["text"] > 0).any()


def test_the_action_chunk_repeats_the_last_action_past_the_episode_end(dataset_dir):
    ds = _dataset(dataset_dir)
    b = ds.source.bounds
    last = normalize(ds.source.load_episode(0).action[-1], b.action_min, b.action_max)
    sample = ds[37]  # episode 0 has 40 frames: 37, 38, 39, then padding
    np.testing.assert_allclose(sample["actions"][2:], np.repeat(last[None], 14, axis=0), atol=1e-6)


def test_frames_are_the_recorded_frames_at_t(dataset_dir):
    ds = _dataset(dataset_dir)
    path = ds.source.video_path(2, ds.layout.cameras[0])
    full = read_frames(path)  # every frame at the recorded size
    reformatter = av.video.reformatter.VideoReformatter()

    def small(frame):
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        return reformatter.reformat(vf, width=SIZE, height=SIZE, format="rgb24", interpolation="AREA").to_ndarray()

    ours = ds[80 + 17]["images"][0].astype(np.float32)
    errors = [np.abs(ours - small(f)).mean() for f in full]
    assert int(np.argmin(errors)) == 17 and errors[17] < 8.0  # the square moves: other frames differ


def test_the_window_sampler_is_a_deterministic_permutation_per_epoch():
    lengths = [30, 50, 20, 40]
    sampler = EpisodeWindowSampler(lengths, frame_bytes=1000, window_bytes=60_000, seed=7)
    first = list(sampler)
    assert sorted(first) == list(range(140)) and first == list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first
    # windows hold at most 60 frames' worth of decoded video (one episode at least), each visited contiguously
    offsets = np.cumsum([0] + lengths)
    episode_of = [int(np.searchsorted(offsets, i, side="right")) - 1 for i in first]
    windows = sampler.windows(np.random.default_rng([7, 0]))
    assert all(sum(lengths[p] for p in w) <= 60 or len(w) == 1 for w in windows)
    position = 0
    for window in windows:
        size = sum(lengths[p] for p in window)
        assert set(episode_of[position : position + size]) == set(window)
        position += size


def test_an_epoch_decodes_each_video_once_in_a_worker(dataset_dir):
    ds = _dataset(dataset_dir, cache_mb=1)
    per_episode = 40 * ds.frame_bytes // 2  # one camera's frames
    sampler = EpisodeWindowSampler(ds.episode_lengths, ds.frame_bytes, 2**20 // 2, seed=0)
    assert len(sampler.windows(np.random.default_rng([0, 0]))) > 1  # the budget really splits the episodes
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for batch in DataLoader(ds, batch_size=8, sampler=sampler, collate_fn=collate, num_workers=0):
            assert batch["images"].shape[1:] == (2, SIZE, SIZE, 3)
        assert ds.cache.bytes <= 2**20 + 2 * per_episode
    assert ds.cache.decodes <= 2 * 2 * 4  # epochs x cameras x episodes: never once per sample


def test_the_frame_cache_drops_the_least_recently_used():
    cache = FrameCache(max_bytes=250)
    block = lambda: np.zeros(100, dtype=np.uint8)  # noqa: E731
    cache.get((0, "a"), block)
    cache.get((1, "a"), block)
    cache.get((0, "a"), block)  # touch 0: 1 is now the oldest
    cache.get((2, "a"), block)
    assert list(cache._entries) == [(0, "a"), (2, "a")] and cache.bytes == 200 and cache.decodes == 3
    big = FrameCache(max_bytes=10)
    big.get((0, "a"), block)
    assert big.bytes == 100  # an episode larger than the budget is still served


def test_a_corrupt_video_names_the_episode_and_file(dataset_copy):
    ds = _dataset(dataset_copy)
    path = ds.source.video_path(2, ds.layout.cameras[1])
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 3]))  # truncated upload
    with pytest.raises(FrameDecodeError) as info:
        ds[80]
    assert "episode 2" in str(info.value) and str(path) in str(info.value)


def test_a_decode_error_in_a_dataloader_worker_comes_back_clean(dataset_copy):
    ds = _dataset(dataset_copy)
    path = ds.source.video_path(1, ds.layout.cameras[0])
    path.write_bytes(b"\x00" * 4096)
    loader = DataLoader(ds, batch_size=4, sampler=range(40, 48), collate_fn=collate, num_workers=1)
    with pytest.raises(FrameDecodeError) as info:
        next(iter(loader))
    assert info.value.problems[0].startswith(f"episode 1: {path}")
    assert "Traceback" not in str(info.value)


def test_a_video_shorter_than_its_episode_is_reported(dataset_copy, dataset_dir):
    ds = _dataset(dataset_copy)
    path = ds.source.video_path(0, ds.layout.cameras[0])
    write_video(path, read_frames(path)[:30], fps=30)  # 30 of the 40 frames
    ep = ds.source.load_episode(0)
    with pytest.raises(FrameDecodeError, match=r"episode 0: .* has no frame at t=1\.000 s \(parquet row 30\)"):
        decode_episode(path, SIZE, ep.timestamp, episode=0)


@pytest.mark.parametrize("layout,config,codec,version", [
    ("so100", "so100", "av1", "v2.0"),  # SO-101 recordings are AV1; v2.0 keeps video_info
    ("fourier_gr1_arms_only", "fourier_gr1_arms_only", "h264", "v2.1"),
])
def test_other_layouts_codecs_and_versions(tmp_path, layout, config, codec, version):
    from gr00t_data.synthetic import generate_dataset

    root = generate_dataset(tmp_path / "ds", layout=layout, episodes=2, frames_per_episode=20, codec=codec,
                            version=version, write_modality=True, write_stats=True)
    source = LeRobotDataset(root, config)
    ds = ChunkDataset(source, [0, 1], image_size=SIZE, text_vocab=64, text_tokens=4, frame_cache_bytes=2**20)
    sample = ds[25]
    assert sample["images"].shape == (len(source.layout.cameras), SIZE, SIZE, 3)
    assert sample["state"].shape == (source.layout.state_dim,) and sample["actions"].shape == (16, source.layout.action_dim)
    assert sample["images"].std() > 0 and (sample["text"] > 0).any()
