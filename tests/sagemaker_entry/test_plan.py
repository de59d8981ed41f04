"""The plan, table by table: a job's environment + hyperparameters -> engine, model-cache tiers, layout, resume,
trainer command and request; nothing prepared, downloaded or created on the way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gr00t_core.errors import AssetError, EngineError
from sagemaker_entry.contract import read_training_env
from sagemaker_entry.model_cache import Tier
from sagemaker_entry.plan import (
    check_engine,
    model_cache_plan,
    plan_run,
    printed_model_dir,
    trainer_command,
    trainer_request,
)
from tests.entry_jobs import make_job

GPU = {"instanceType": "ml.g6e.12xlarge"}
N15 = {**GPU, "engine": "isaac-gr00t", "baseModelPath": "nvidia/GR00T-N1.5-3B"}
N16 = {**GPU, "engine": "isaac-gr00t", "baseModelPath": "nvidia/GR00T-N1.6-3B"}


def _job(tmp_path: Path, parameters: dict | None = None, **kw):
    ds = tmp_path / "ds"
    (ds / "meta").mkdir(parents=True)
    (ds / "meta" / "info.json").write_text(json.dumps({"codebase_version": "v2.1"}))
    return make_job(tmp_path, ds, endpoint="http://127.0.0.1:9", parameters=parameters, **kw)


@pytest.mark.parametrize(
    "parameters,key,generation,use_hub,required_file,takes_request,modality_config",
    [
        ({}, "builtin", None, False, "builtin_policy.json", True, False),
        (N15, "n1.5", "1.5", True, None, False, False),
        (N16, "n1.6", "1.6", True, None, False, True),
        ({**N15, "baseModelPath": "acme/my-policy", "gr00tGeneration": "1.7"}, "n1.7", "1.7", True, None, False, True),
    ],
)
def test_the_engine_comes_from_the_engine_table(tmp_path, parameters, key, generation, use_hub, required_file,
                                                takes_request, modality_config):
    env = read_training_env(_job(tmp_path, parameters).env)
    plan = plan_run(env, dry_run=True)
    assert (plan.spec.key, plan.spec.generation) == (key, generation)
    assert plan.isaac_gr00t == (key != "builtin")
    assert (plan.model_cache.use_hub, plan.model_cache.required_file) == (use_hub, required_file)
    assert (trainer_request(env, plan, None) is not None) == takes_request
    command = trainer_command(env, plan, tmp_path / "model", python="/our/python")
    assert command.argv[0] == (str(env.gr00t_python) if use_hub else "/our/python")
    assert ("--modality-config-path" in command.argv) == modality_config


@pytest.mark.parametrize(
    "warm_pool,channel,channel_writable,expected",
    [
        (False, False, True, [(Tier.SCRATCH, "work/models", True)]),
        (True, False, True, [(Tier.WARM_POOL, "wp/gr00t-models", True), (Tier.SCRATCH, "work/models", True)]),
        (False, True, True, [(Tier.CHANNEL, "fsx", True), (Tier.SCRATCH, "work/models", True)]),
        (True, True, False, [(Tier.WARM_POOL, "wp/gr00t-models", True), (Tier.CHANNEL, "fsx", False),
                             (Tier.SCRATCH, "work/models", True)]),
    ],
)
def test_model_cache_tiers_in_order(tmp_path, warm_pool, channel, channel_writable, expected):
    extra = {"GR00T_SM_WORK_DIR": str(tmp_path / "work")}
    if warm_pool:
        extra["SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"] = str(tmp_path / "wp")
    if channel:
        (tmp_path / "fsx").mkdir()
        extra["SM_CHANNEL_MODEL_CACHE"] = str(tmp_path / "fsx")
    env = read_training_env(_job(tmp_path, extra_env=extra).env)
    plan = plan_run(env, dry_run=True)
    tiers = model_cache_plan(env, plan.spec, plan.identity, writable=lambda _folder: channel_writable).tiers
    assert [(t.name, str(t.root.relative_to(tmp_path)), t.writable) for t in tiers] == expected
    assert not (tmp_path / "work").exists() and not (tmp_path / "wp").exists()


def test_a_model_cache_channel_that_is_not_mounted_is_no_tier(tmp_path):
    env = read_training_env(_job(tmp_path, extra_env={"SM_CHANNEL_MODEL_CACHE": str(tmp_path / "absent")}).env)
    assert [t.name for t in plan_run(env, dry_run=True).model_cache.tiers] == [Tier.SCRATCH]


@pytest.mark.parametrize(
    "identity,s3_uri,secret",
    [
        ({}, "", ""),
        ({"model_cache_uri": "s3://cache/models/", "hf_token_secret_id": "hf-token"}, "s3://cache/models/", "hf-token"),
    ],
)
def test_the_s3_tier_and_the_hub_token_come_from_the_run_identity(tmp_path, identity, s3_uri, secret):
    plan = plan_run(read_training_env(_job(tmp_path, N15, identity=identity).env), dry_run=True)
    assert (plan.model_cache.s3_uri, plan.model_cache.hf_token_secret_id) == (s3_uri, secret)


@pytest.mark.parametrize(
    "parameters,extra_env,nproc,expected_checkpoints",
    [
        ({}, {}, 2, 3),  # GR00T_SM_NPROC_PER_NODE=2 (make_job) overrides; maxSteps 4 / saveSteps 2 + the final one
        ({"maxSteps": 10, "saveSteps": 3}, {"GR00T_SM_NPROC_PER_NODE": ""}, 1, 4),  # builtin on CPU: one process
        ({**N15, "numGpus": 4}, {"GR00T_SM_NPROC_PER_NODE": ""}, 4, 3),
    ],
)
def test_layout_and_expected_checkpoints(tmp_path, parameters, extra_env, nproc, expected_checkpoints):
    plan = plan_run(read_training_env(_job(tmp_path, parameters, extra_env=extra_env).env), dry_run=True)
    assert plan.layout.nproc_per_node == nproc and plan.layout.master_addr == "127.0.0.1"
    assert plan.expected_checkpoints == expected_checkpoints


@pytest.mark.parametrize("dry_run", [True, False])
def test_resume_from_the_latest_complete_checkpoint_and_a_dry_run_removes_nothing(tmp_path, dry_run):
    job = _job(tmp_path)
    done = job.checkpoints / "checkpoint-2"
    done.mkdir(parents=True)
    (done / "builtin_policy.json").write_text("{}")
    (done / ".complete").write_text("")
    (job.checkpoints / "checkpoint-4").mkdir()  # torn
    env = read_training_env(job.env)
    plan = plan_run(env, dry_run=dry_run)
    assert plan.resume.latest == done and plan.resume.removed == ["checkpoint-4"]
    assert (job.checkpoints / "checkpoint-4").exists() == dry_run
    assert trainer_request(env, plan, None)["resume_from_checkpoint"] == str(done)


def test_the_builtin_request_carries_the_resolved_config_and_the_folders(tmp_path):
    env = read_training_env(_job(tmp_path, {"learningRate": 0.0005}).env)
    plan = plan_run(env, dry_run=True)
    request = trainer_request(env, plan, tmp_path / "base")
    assert request == {
        "dataset_dir": str(env.work_dir / "dataset"), "output_dir": str(env.checkpoint_dir),
        "config": plan.config.values, "base_model_dir": str(tmp_path / "base"), "resume_from_checkpoint": None,
        "tensorboard_dir": str(env.tensorboard_dir),
    }
    assert request["config"]["learningRate"] == 0.0005


@pytest.mark.parametrize(
    "parameters,planned,shown",
    [
        ({}, None, None),  # builtin with nothing cached: random initialization
        (N15, None, "work/models/<fetched at run time>"),
        (N15, "wp/entry", "wp/entry"),
    ],
)
def test_the_printed_base_model_folder(tmp_path, parameters, planned, shown):
    env = read_training_env(_job(tmp_path, parameters, extra_env={"GR00T_SM_WORK_DIR": str(tmp_path / "work")}).env)
    plan = plan_run(env, dry_run=True)
    result = printed_model_dir(plan, tmp_path / planned if planned else None, env)
    assert result == (tmp_path / shown if shown else None)


def test_no_dataset_channel_is_an_asset_error(tmp_path):
    env = read_training_env(_job(tmp_path, channels=("other",)).env)
    with pytest.raises(AssetError, match="no 'dataset' input channel"):
        plan_run(env, dry_run=True)


@pytest.mark.parametrize(
    "installed,gpus,message",
    [
        (False, "4", "INSTALL_GR00T=true"),
        (True, "0", "numGpus = 1 but this instance has 0 GPU"),
        (True, "1", None),
    ],
)
def test_check_engine(tmp_path, installed, gpus, message):
    job = _job(tmp_path, N15, extra_env={"SM_NUM_GPUS": gpus, "GR00T_SM_NPROC_PER_NODE": ""})
    env = read_training_env(job.env)
    if installed:
        for path in (env.gr00t_repo_dir / "scripts" / "gr00t_finetune.py", env.gr00t_python):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    plan = plan_run(env, dry_run=True)
    if message is None:
        check_engine(env, plan)
    else:
        with pytest.raises(EngineError, match=message):
            check_engine(env, plan)
    builtin_env = read_training_env(_job(tmp_path / "b").env)
    check_engine(builtin_env, plan_run(builtin_env, dry_run=True))  # the builtin engine needs nothing installed
