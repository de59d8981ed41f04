"""The production (Isaac-GR00T) part of container/Dockerfile, read statically: it is built only on the CUDA base
(CodeBuild), never by the tests, so these checks are what keeps it honest between production builds."""

from __future__ import annotations

import re
import shlex

import pytest

from local_mode.image import DOCKERFILE, REPO_ROOT

# Isaac-GR00T's README, Prerequisites: "Please make sure you have the following dependencies installed in your
# system: ffmpeg, libsm6, libxext6"; libgl1 is the OpenGL library OpenCV loads (Isaac-GR00T's Dockerfile installs
# it as libgl1-mesa-glx).
GR00T_SYSTEM_PACKAGES = {"ffmpeg", "libsm6", "libxext6", "libgl1"}
# The modules of the pinned N1.5 commit that decode videos and transform them (gr00t/data/dataset.py imports
# gr00t.utils.video; gr00t/experiment/data_config.py imports gr00t.data.transform.video).
GR00T_VIDEO_MODULES = {"gr00t.utils.video", "gr00t.data.transform.video"}
GATE = '[ "$INSTALL_GR00T" = "true" ]'


def _stages(text: str) -> dict[str, list[str]]:
    """Instructions per stage, comment lines dropped and continuation lines joined (as Docker reads them)."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    instructions = re.sub(r"\\\n", " ", "\n".join(lines)).splitlines()
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for instruction in (i.strip() for i in instructions if i.strip()):
        if instruction.startswith("FROM "):
            words = instruction.split()
            current = stages.setdefault(words[3] if len(words) > 3 else f"stage{len(stages)}", [])
        current.append(instruction)
    return stages


STAGES = _stages((REPO_ROOT / DOCKERFILE).read_text())


def _gated_runs(stage: str) -> list[str]:
    return [i for i in STAGES[stage] if i.startswith("RUN ") and GATE in i]


def test_gr00t_system_packages_are_installed_where_the_final_image_inherits_them():
    # the final stage and the deps stage both start FROM runtime: packages installed there reach the image
    # SageMaker runs and the deps stage's import check alike (a package installed in deps alone would not).
    final = list(STAGES)[-1]
    assert STAGES[final][0] == "FROM runtime" and STAGES["deps"][0] == "FROM runtime AS deps"
    assert "ARG INSTALL_GR00T=false" in STAGES["runtime"]
    installs = [shlex.split(run) for run in _gated_runs("runtime") if "apt-get install" in run]
    assert len(installs) == 1, "one gated apt-get install of GR00T's system packages in the runtime stage"
    assert GR00T_SYSTEM_PACKAGES <= set(installs[0])


def test_the_build_fails_unless_gr00ts_video_modules_import():
    [install] = _gated_runs("deps")
    checkout = install.index('checkout --detach "$GR00T_COMMIT"')
    imports = re.search(r'venv/bin/python -c "import ([^"]+)"', install[checkout:])
    assert imports, "the GR00T install must end with an import check"
    modules = {m.strip() for m in imports.group(1).split(",")}
    assert GR00T_VIDEO_MODULES | {"gr00t", "flash_attn"} <= modules
    assert "set -e" in install[: install.index(imports.group(0))]  # a failed import fails the build
    assert "ffmpeg -version" in install[checkout:]


@pytest.mark.parametrize("stage", ["runtime", "deps"])
def test_the_cpu_image_skips_the_gr00t_steps(stage):
    # The tests build the image on a registry-less Debian base with INSTALL_GR00T=false: every apt-get and git
    # step for GR00T must sit behind the gate, so that build needs no network.
    for run in (i for i in STAGES[stage] if i.startswith("RUN ")):
        if "libsm6" in run or "Isaac-GR00T" in run:
            assert GATE in run, run
