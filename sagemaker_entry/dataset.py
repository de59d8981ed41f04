"""The dataset channel -> a prepared, writable working copy (once per node, before torchrun starts).

The channel is never modified: it may be a read-only file system (FSx/EFS mounted ``ro``, FastFile mode) or the
user's own data on a shared file system. The working copy holds a real copy of ``meta/`` (where preparation
writes modality.json and stats.json) and links to everything else: hard links where the channel shares the
file system with the work folder (File mode: both on the instance volume), symbolic links otherwise. Nothing is
ever written through a link: preparation writes only into ``meta/``.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gr00t_core.data_configs import backend_problem
from gr00t_core.errors import AssetError, ConfigError, DatasetError
from gr00t_core.parameters import to_string
from gr00t_core.resolution import CONFIG_FILE_NAME, ResolvedConfig, parse_config_file, resolve

INFO_FILE = Path("meta") / "info.json"


def locate_dataset(channel: Path, dataset_path: str) -> Path:
    """The LeRobot dataset folder inside the channel: the channel itself (it is the asset's datasetPath prefix)
    or ``<channel>/<datasetPath>`` when the channel holds the whole asset."""
    if not channel.is_dir():
        raise AssetError(
            f"the 'dataset' channel folder {channel} does not exist: start the job with a 'dataset' input channel "
            "pointing at the asset's dataset prefix"
        )
    for candidate in (channel, channel / dataset_path):
        if (candidate / INFO_FILE).is_file():
            return candidate
    entries = sorted(p.name for p in channel.iterdir())[:10]
    raise AssetError(
        f"no LeRobot dataset in the 'dataset' channel: neither {channel / INFO_FILE} nor "
        f"{channel / dataset_path / INFO_FILE} exists (the channel holds {entries or 'nothing'}); point the channel "
        "at the folder holding meta/, data/ and videos/ or fix datasetPath"
    )


def ignored_config_file(channel: Path, config: ResolvedConfig, hyperparameters: Mapping[str, str]) -> str | None:
    """A warning when the channel holds a gr00t_config.json whose values differ from the job's, else None.

    The file changes nothing: the launch resolved the configuration once (gr00t_config.json at the asset root >
    asset metadata > inputParameters > defaults) and checked it together with what only the launch decides
    (instance type, channels, output folder, spot) before any GPU was paid for. A file that could still win here
    would train with values nobody checked and that Studio's hyperparameters do not show.
    """
    path = channel / CONFIG_FILE_NAME
    if not path.is_file():
        return None
    ignored = (f"{path} is ignored: the training job's hyperparameters, resolved and checked at launch, "
               "are the run's configuration")
    fix = "; to change the run, edit gr00t_config.json at the asset root and launch again"
    try:
        with_file = resolve(file=parse_config_file(path.read_bytes(), name=str(path)), hyperparameters=hyperparameters)
    except (OSError, ConfigError) as exc:
        return f"{ignored} (the file cannot be used anyway: {exc}){fix}"
    differs = [f"{name} = {to_string(with_file[name])} (job: {to_string(value)})"
               for name, value in config.values.items() if with_file[name] != value]
    if not differs:
        return None
    return f"{ignored}; it differs in {', '.join(differs)}{fix}"


def _link_or_copy(src: Path, dst: Path, *, state: dict[str, bool]) -> None:
    if state.get("hardlinks", True):
        try:
            os.link(src, dst)
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EROFS, errno.EACCES, errno.EMLINK, errno.ENOTSUP):
                raise
            state["hardlinks"] = False  # another file system: stop trying for every file
    os.symlink(src, dst)


@dataclass(frozen=True)
class WorkingCopy:
    path: Path
    linked_files: int
    copied_files: int
    hardlinks: bool


def make_working_copy(source: Path, dest: Path) -> WorkingCopy:
    """Copy ``meta/`` and link every other file of ``source`` under ``dest`` (replaced if it exists)."""
    if dest.exists():
        shutil.rmtree(dest)  # our own scratch from an earlier attempt on this instance
    dest.mkdir(parents=True)
    state: dict[str, bool] = {}
    linked = copied = 0
    source = source.resolve()
    for root, dirs, files in os.walk(source, followlinks=True):
        rel = Path(root).relative_to(source)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        (dest / rel).mkdir(parents=True, exist_ok=True)
        in_meta = rel.parts[:1] == ("meta",)
        for name in files:
            src, dst = Path(root, name), dest / rel / name
            if in_meta or rel == Path("."):
                shutil.copy2(src, dst)  # small files that preparation may write or read-modify-write
                copied += 1
            else:
                _link_or_copy(src, dst, state=state)
                linked += 1
    return WorkingCopy(dest, linked, copied, state.get("hardlinks", True))


def hold_out(work: Path, eval_dest: Path, held: Sequence[int]) -> WorkingCopy:
    """Split the prepared working copy ``work`` for a held-out evaluation: ``eval_dest`` (made from ``work``: its
    prepared meta/ copied, every other file linked) lists the episodes at positions ``held`` of its
    meta/episodes.jsonl, ``work`` keeps the others.

    Both get meta/stats.json over the training episodes only: the normalisation the model learns with, and GR00T
    N1.5 would otherwise compute a missing one over every ``data/*/*.parquet`` file it finds, held-out ones too
    (``LeRobotSingleDataset._get_metadata``), while N1.6's loader requires one (``LeRobotEpisodeLoader._load_metadata``).
    """
    from gr00t_data.split import listed_episodes, restrict_episodes, write_stats

    total = len(listed_episodes(work))
    copy = make_working_copy(work, eval_dest)
    restrict_episodes(eval_dest, held)
    restrict_episodes(work, sorted(set(range(total)) - set(held)))
    write_stats(work, eval_dest)
    return copy


def prepare(source: Path, dest: Path, data_config: str, *, decode_check: bool = True,
            video_backend: str | None = None) -> tuple[WorkingCopy, Any]:
    """Make the working copy and prepare it (modality.json, stats.json); returns the copy and the report.

    ``video_backend``: the codecs probed from the files (PyAV) must be decodable by it (the rule of
    gr00t_core.data_configs.backend_problem, checked from info.json at launch), else DatasetError."""
    copy, report = _prepare(source, dest, data_config, decode_check=decode_check)
    problem = video_backend and backend_problem(video_backend, report.summary.get("cameras") or {})
    if problem:
        raise DatasetError([f"{source}: {problem}"], header="The dataset cannot be decoded by the chosen video backend")
    return copy, report


def _prepare(source: Path, dest: Path, data_config: str, *, decode_check: bool) -> tuple[WorkingCopy, Any]:
    from gr00t_data.convert import convert_and_prepare, is_v3
    from gr00t_data.prepare import prepare_dataset

    if is_v3(source):
        # GR00T N1.5 reads v2.x only: the working copy is the v2.1 conversion (new files, nothing linked).
        if dest.exists():
            shutil.rmtree(dest)  # our own scratch from an earlier attempt on this instance
        _, report = convert_and_prepare(source, dest, data_config, decode_check=decode_check)
        files = sum(1 for p in dest.rglob("*") if p.is_file())
        return WorkingCopy(dest, 0, files, False), report
    copy = make_working_copy(source, dest)
    report = prepare_dataset(copy.path, data_config, decode_check=decode_check)
    return copy, report
