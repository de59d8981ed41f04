"""A request file that leaves a parameter out trains with the builtin engine's defaults, as a resolved job does."""

from gr00t_core.resolution import resolve
from sagemaker_entry.builtin.settings import ENGINE_PARAMETERS, typed_config


def test_missing_parameters_take_the_values_resolution_gives_the_builtin_engine():
    resolved = resolve(parameters={"engine": "builtin"}).values
    config = typed_config({})
    assert config["learningRate"] == resolved["learningRate"] == 1e-3  # the engine table's, not GR00T's 1e-4
    assert {name: config[name] for name in ENGINE_PARAMETERS} == {name: resolved[name] for name in ENGINE_PARAMETERS}
