"""Deployment caps: what a per-asset config may request."""

import pytest

from gr00t_core.errors import ConfigError
from gr00t_core.resolution import resolve
from launcher.orchestration.policy import enforce_policy, policy_problems
from tests.aws_env import settings


@pytest.mark.parametrize(
    "file,overrides,match",
    [
        ({"instanceType": "ml.p5.48xlarge", "numGpus": 1}, {}, r"instanceType \(from gr00t_config.json\): 'ml.p5.48xlarge' is not allowed by this deployment \(allowed: ml.g6e.\*\)"),
        ({"instanceTypeFallbacks": ["ml.g5.12xlarge"], "batchSize": 16}, {}, r"instanceTypeFallbacks .*'ml.g5.12xlarge' is not allowed.*GR00T_ALLOWED_INSTANCE_TYPES"),
        ({"instanceType": "local_cpu"}, {"allowed_instance_types": ("*",)}, "'local_cpu' is not a SageMaker training instance type"),
        ({"instanceTypeFallbacks": ["local"]}, {"allowed_instance_types": ("*",)}, r"instanceTypeFallbacks .*'local' is not a SageMaker training instance type this project supports; use one of: ml.g6e.xlarge, .*ml.p5en.48xlarge$"),
        ({"instanceCount": 8}, {}, r"instanceCount \(from gr00t_config.json\) = 8 exceeds this deployment's maximum of 4"),
        ({"maxRuntimeSeconds": 200000}, {}, r"maxRuntimeSeconds .* exceeds this deployment's maximum of 86400 s"),
        ({"warmPoolKeepAliveSeconds": 1200}, {"max_keep_alive_seconds": 600}, "warmPoolKeepAliveSeconds .* maximum of 600 s"),
        ({"baseModelPath": "someone/GR00T-N1.5-3B"}, {}, r"models from this owner are not allowed here \(allowed owners: nvidia"),
    ],
)
def test_requests_beyond_the_caps_are_refused(file, overrides, match):
    config = resolve(file=file)
    with pytest.raises(ConfigError, match=match):
        enforce_policy(config, settings(**overrides))


def test_within_the_caps_nothing_is_said():
    config = resolve(file={"instanceType": "ml.g6e.12xlarge", "numGpus": 4, "instanceCount": 4, "maxRuntimeSeconds": 86400})
    assert policy_problems(config, settings()) == []


def test_every_problem_is_listed():
    config = resolve(file={"instanceCount": 9, "maxRuntimeSeconds": 100000, "baseModelPath": "x/y", "gr00tGeneration": "1.5"})
    assert len(policy_problems(config, settings())) == 3


def test_each_generation_launches_on_its_own_image_and_an_unconfigured_one_is_refused_naming_the_setting():
    from tests.requests_util import request_for

    n16 = resolve(file={"baseModelPath": "nvidia/GR00T-N1.6-3B"})
    with pytest.raises(ConfigError, match=r"needs the Isaac-GR00T N1.6 training image.*set GR00T_IMAGE_URI_N1_6"):
        enforce_policy(n16, settings())
    assert policy_problems(n16, settings(image_uri_n1_6="1.dkr.ecr.us-east-1.amazonaws.com/gr00t:n1.6")) == []
    assert policy_problems(resolve(file={}), settings()) == []  # N1.5 and builtin run on GR00T_IMAGE_URI
    images = settings(image_uri="1.dkr.ecr.us-east-1.amazonaws.com/gr00t:n1.5",
                      image_uri_n1_7="1.dkr.ecr.us-east-1.amazonaws.com/gr00t:n1.7")
    for base, tag in (("nvidia/GR00T-N1.5-3B", "n1.5"), ("nvidia/GR00T-N1.7-3B", "n1.7")):
        request = request_for({"baseModelPath": base}, images)
        assert request["AlgorithmSpecification"]["TrainingImage"].endswith(f"gr00t:{tag}")
