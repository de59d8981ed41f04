"""ASL placeholders are filled from the deployment's values, and never left behind."""

from __future__ import annotations

import json

import pytest

from local_mode.pipeline import LAMBDAS, STATE_MACHINE_FILE
from local_mode.state_machine import Execution, StateMachineError, placeholders, render_definition


@pytest.mark.parametrize(
    ("definition", "values", "expected"),
    [
        ('{"a": "${X}"}', {"X": "arn:1"}, {"a": "arn:1"}),
        ('{"a": "${X}", "b": "${X}-${Y}"}', {"X": "1", "Y": "2"}, {"a": "1", "b": "1-2"}),
        ('{"a": "plain $X"}', {}, {"a": "plain $X"}),
    ],
)
def test_render_substitutes_every_placeholder(definition, values, expected):
    assert json.loads(render_definition(definition, values)) == expected


def test_render_names_the_missing_placeholders():
    with pytest.raises(StateMachineError, match=r"\$\{StopFunctionArn\}"):
        render_definition('{"a": "${LaunchFunctionArn}", "b": "${StopFunctionArn}"}', {"LaunchFunctionArn": "x"})


def test_local_mode_provides_every_placeholder_of_the_projects_state_machine():
    definition = STATE_MACHINE_FILE.read_text()
    assert set(placeholders(definition)) <= set(LAMBDAS)
    rendered = json.loads(render_definition(definition, {k: f"arn:aws:lambda:us-east-1:123456789012:function:{v[0]}" for k, v in LAMBDAS.items()}))
    assert rendered["StartAt"] in rendered["States"]


def test_execution_reads_scheduled_task_parameters_from_history():
    execution = Execution("arn", history=[
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Launch"}},
        {"type": "TaskScheduled", "taskScheduledEventDetails": {"parameters": json.dumps({"Payload": {"TaskToken": "t1"}})}},
    ])
    assert execution.scheduled_tasks() == [{"Payload": {"TaskToken": "t1"}}]
    assert execution.entered_states() == ["Launch"]
    assert not execution.done
