"""Deploy an ASL file into the emulator and follow one execution of it.

The project's state machine definitions carry ``${Name}`` placeholders (the deployment template substitutes
Lambda ARNs); :func:`render_definition` substitutes them and refuses to leave one unresolved.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gr00t_core.errors import Gr00tSmError

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
STATE_MACHINE_ROLE = "gr00t-sm-local-states"


class StateMachineError(Gr00tSmError, RuntimeError):
    """The definition cannot be deployed as it is (unresolved placeholder, invalid ASL)."""


def placeholders(definition: str) -> list[str]:
    return sorted(set(_PLACEHOLDER.findall(definition)))


def render_definition(definition: str, values: Mapping[str, str]) -> str:
    missing = [name for name in placeholders(definition) if name not in values]
    if missing:
        raise StateMachineError(f"the state machine definition needs values for {', '.join('${' + m + '}' for m in missing)}")
    rendered = _PLACEHOLDER.sub(lambda m: values[m.group(1)], definition)
    json.loads(rendered)  # a substitution must never break the JSON
    return rendered


@dataclass
class Execution:
    arn: str
    status: str = "RUNNING"
    output: Any = None
    error: str = ""
    cause: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status != "RUNNING"

    def scheduled_tasks(self) -> list[dict[str, Any]]:
        """The parameters of every Task state scheduled so far (``Payload`` holds the task token for callbacks)."""
        found = []
        for event in self.history:
            details = event.get("taskScheduledEventDetails")
            if details:
                found.append(json.loads(details.get("parameters") or "{}"))
        return found

    def entered_states(self) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.history if "stateEnteredEventDetails" in e]


def deploy(sfn: Any, iam: Any, name: str, definition: str) -> str:
    """Create the state machine (and a role for it) in the emulator; returns its ARN."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "states.amazonaws.com"}}]}
    try:
        role_arn = iam.get_role(RoleName=STATE_MACHINE_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(RoleName=STATE_MACHINE_ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    return sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)["stateMachineArn"]


def start(sfn: Any, state_machine_arn: str, name: str, payload: Mapping[str, Any]) -> Execution:
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))["executionArn"]
    return Execution(arn)


def refresh(sfn: Any, execution: Execution) -> Execution:
    described = sfn.describe_execution(executionArn=execution.arn)
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution.arn):
        events.extend(page.get("events", []))
    execution.history = events
    execution.status = described["status"]
    if described.get("output"):
        try:
            execution.output = json.loads(described["output"])
        except json.JSONDecodeError:
            execution.output = described["output"]
    execution.error = described.get("error", "") or ""
    execution.cause = described.get("cause", "") or ""
    if execution.done and not execution.error:
        failed = [e for e in events if "executionFailedEventDetails" in e]
        if failed:
            details = failed[-1]["executionFailedEventDetails"]
            execution.error, execution.cause = details.get("error", ""), details.get("cause", "")
    return execution


def wait(sfn: Any, execution: Execution, until: Callable[[Execution], bool], *, timeout: float,
         poll: float = 0.2, sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> Execution:
    """Poll until ``until(execution)`` holds or the execution ended; raises TimeoutError after ``timeout`` s."""
    deadline = clock() + timeout
    while True:
        refresh(sfn, execution)
        if execution.done or until(execution):
            return execution
        if clock() > deadline:
            raise TimeoutError(f"the state machine execution is still {execution.status} after {timeout:.0f} s "
                               f"(states entered: {', '.join(execution.entered_states()) or 'none'})")
        sleep(poll)


def load_definition(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StateMachineError(f"cannot read the state machine definition {path}: {exc}") from None
