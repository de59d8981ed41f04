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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gr00t_core.errors import AssetError, ConfigError
from gr00t_core.resolution import CONFIG_FILE_NAME, parse_config_file

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


def read_config_file(channel: Path) -> dict[str, Any] | None:
    """gr00t_config.json at the channel root (it outranks every other tier), or None."""
    path = channel / CONFIG_FILE_NAME
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{CONFIG_FILE_NAME} in the dataset channel cannot be read: {exc}"]) from None
    return parse_config_file(text)


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


def prepare(source: Path, dest: Path, data_config: str, *, decode_check: bool = True) -> tuple[WorkingCopy, Any]:
    """Make the working copy and prepare it (modality.json, stats.json); returns the copy and the report."""
    from gr00t_data.prepare import prepare_dataset

    copy = make_working_copy(source, dest)
    report = prepare_dataset(copy.path, data_config, decode_check=decode_check)
    return copy, report
