"""moto answering as the real services do, wherever this project's behaviour depends on the difference.

moto is the offline stand-in for *state*. Where its answers differ from AWS's (error wording, an operation it
lacks, a job's first status), the code under test would take a path it never takes on AWS, so a green test
would prove nothing. :func:`install` patches moto to answer as AWS does; the test suite (``tests/conftest.py``,
for every test) and local mode's emulator (:mod:`local_mode.emulator`) both use it, so ``make test`` and
``make demo`` exercise the code paths of a real account. Each patch names the real behaviour and its public
source; tests/fixtures/aws_errors.json records the same answers for the adapter tests.

Patches are class-level (moto keeps its backends in module globals), applied once per :func:`install` and
undone by the function it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# SageMaker answers DescribeTrainingJob / StopTrainingJob for a job that does not exist with HTTP 400
# ValidationException "Requested resource not found." (boto/boto3#2808, aws/aws-sdk#165; the AWS controller for
# SageMaker, aws-controllers-k8s/sagemaker-controller generator.yaml, matches the prefix for TrainingJob).
JOB_NOT_FOUND_MESSAGE = "Requested resource not found."
# StopTrainingJob on a job that already ended (awslabs/benchmark-ai#928 shows the real text for "Stopped").
STOP_ENDED_MESSAGE = "The request was rejected because the training job is in status {status}."

# Step Functions' documented meaning of TaskTimedOut (API reference, SendTaskSuccess, Errors); the service's own
# text is not documented, and the project reads only the code.
TASK_CLOSED_MESSAGE = "The task token has either expired or the task associated with the token has already been closed."

# Called with moto's training-job object when StopTrainingJob accepts a stop (the job is then "Stopping", as on
# AWS until its container has exited). Local mode stops the local job; tests finish the stop at once.
StopListener = Callable[[Any], None]
_stop_listeners: list[StopListener] = []


def add_stop_listener(listener: StopListener) -> Callable[[], None]:
    """Register ``listener``; returns the function that removes it."""
    _stop_listeners.append(listener)
    return lambda: _stop_listeners.remove(listener) if listener in _stop_listeners else None


def _patch(owner: Any, name: str, replacement: Any, undo: list[Callable[[], None]]) -> None:
    had = name in owner.__dict__
    original = owner.__dict__.get(name)
    setattr(owner, name, replacement)
    undo.append(lambda: setattr(owner, name, original) if had else delattr(owner, name))


def _sagemaker(undo: list[Callable[[], None]]) -> None:
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    original_init = FakeTrainingJob.__init__

    def init_in_progress(self: Any, *args: Any, **kwargs: Any) -> None:
        # A new job starts InProgress / Starting (moto: "Completed" at once), so nothing may look finished early.
        original_init(self, *args, **kwargs)
        self.training_job_status, self.secondary_status = "InProgress", "Starting"

    def describe_training_job(self: Any, training_job_name: str) -> dict[str, Any]:
        job = self.training_jobs.get(training_job_name)
        if job is None:
            raise ValidationError(message=JOB_NOT_FOUND_MESSAGE)
        return job.response_object

    def stop_training_job(self: Any) -> Any:
        # moto 5.2 has no StopTrainingJob (NotImplementedError).
        name = self._get_param("TrainingJobName")
        job = self.sagemaker_backend.training_jobs.get(name)
        if job is None:
            raise ValidationError(message=JOB_NOT_FOUND_MESSAGE)
        if job.training_job_status not in ("InProgress", "Stopping"):
            raise ValidationError(message=STOP_ENDED_MESSAGE.format(status=job.training_job_status))
        job.training_job_status, job.secondary_status = "Stopping", "Stopping"
        for listener in list(_stop_listeners):
            listener(job)
        return ActionResult({})

    _patch(FakeTrainingJob, "__init__", init_in_progress, undo)
    _patch(SageMakerModelBackend, "describe_training_job", describe_training_job, undo)
    _patch(SageMakerResponse, "stop_training_job", stop_training_job, undo)


def _stepfunctions(undo: list[Callable[[], None]]) -> None:
    from moto.core.exceptions import AWSError
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.parser import models as parser_models
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    original_send_task_failure = StepFunctionResponse.send_task_failure

    def send_task_failure(self: Any) -> Any:
        # moto 5.2's handler drops ``cause`` on its way to the ASL engine; AWS keeps it (<= 32768 chars). Only the
        # engine's backend takes a cause: without execute_state_machine moto's plain backend answers as before.
        if not isinstance(self.stepfunction_backend, StepFunctionsParserBackend):
            return original_send_task_failure(self)
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    def notify_heartbeat(self: Any) -> bool:
        # A heartbeat for a waiting task without HeartbeatSeconds is accepted and has no effect on AWS
        # (wellcomecollection/catalogue-pipeline#3597: such beats "were discarded"); moto answers InvalidToken.
        if self._heartbeat_endpoint is not None:
            self._heartbeat_endpoint.notify()
        return True

    # moto's own TaskTimedOut / TaskDoesNotExist cannot be raised (their constructor wants a message moto never
    # passes, so moto answers HTTP 500); these answer with the code and status AWS uses.
    class ClosedTask(AWSError):
        TYPE, STATUS = "TaskTimedOut", 400

        def __init__(self, message: str = TASK_CLOSED_MESSAGE) -> None:
            super().__init__(message)

    class NoSuchTask(AWSError):
        TYPE, STATUS = "TaskDoesNotExist", 400

        def __init__(self, message: str = "The activity does not exist.") -> None:
            super().__init__(message)

    def owning_execution(backend: Any, token: str) -> Any:
        for execution in backend._get_executions():
            worker = getattr(execution, "exec_worker", None)
            pool = getattr(getattr(worker, "env", None), "callback_pool_manager", None)
            if pool is not None and pool.get(token) is not None:
                return execution
        return None

    def closed_task_times_out(method: Callable[..., Any]) -> Callable[..., Any]:
        # moto looks for the token only in RUNNING executions (InvalidToken for the rest) or, for
        # SendTaskFailure, accepts it in a finished one. AWS answers a well-formed token whose task was already
        # closed (execution aborted, timed out, failed) with TaskTimedOut: "The task token has either expired or
        # the task associated with the token has already been closed" (Step Functions API reference,
        # SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat, Errors). InvalidToken stays for unknown tokens.
        def wrapper(self: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
            execution = owning_execution(self, task_token)
            if execution is not None and execution.status != ExecutionStatus.RUNNING:
                raise ClosedTask()
            return method(self, task_token, *args, **kwargs)

        return wrapper

    def abort_at_once(method: Callable[..., Any]) -> Callable[..., Any]:
        # StopExecution ends the execution ABORTED at once and no state runs after it (StopExecution API reference;
        # "a Catch does not run on abort"). moto only marks its engine stopped: a task waiting for its token waits
        # on to its timeout, and the error then overwrites the stop, so the execution ends FAILED after its Catch.
        def stop(self: Any, stop_date: Any, error: Any, cause: Any) -> Any:
            result = method(self, stop_date, error, cause)
            if self.exec_status == ExecutionStatus.RUNNING:
                self.exec_status, self.stop_date = ExecutionStatus.ABORTED, stop_date
            return result

        return stop

    def stopped_stays_stopped(method: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(self.program_state(), ProgramStopped):
                return None
            return method(self, *args, **kwargs)

        return guarded

    _patch(Execution, "stop", abort_at_once(Execution.stop), undo)
    _patch(Environment, "set_error", stopped_stays_stopped(Environment.set_error), undo)
    _patch(Environment, "set_timed_out", stopped_stays_stopped(Environment.set_timed_out), undo)
    _patch(parser_models, "TaskTimedOut", ClosedTask, undo)
    _patch(parser_models, "TaskDoesNotExist", NoSuchTask, undo)
    _patch(StepFunctionResponse, "send_task_failure", send_task_failure, undo)
    _patch(CallbackEndpoint, "notify_heartbeat", notify_heartbeat, undo)
    for name in ("send_task_heartbeat", "send_task_success", "send_task_failure"):
        _patch(StepFunctionsParserBackend, name, closed_task_times_out(getattr(StepFunctionsParserBackend, name)), undo)


_active: list[Callable[[], None]] = []  # the undo list of the installation in force, once it exists
_users = 0


def install() -> Callable[[], None]:
    """Patch moto to answer as AWS does; returns the function that restores moto as it was.

    Nested installs (the test suite's, then an emulator's inside a test) share one set of patches: the last
    restore undoes them.
    """
    global _users
    if _users == 0:
        undo: list[Callable[[], None]] = []
        try:
            _sagemaker(undo)
            _stepfunctions(undo)
        except BaseException:
            _undo(undo)
            raise
        _active[:] = undo
    _users += 1
    released = False

    def release() -> None:
        global _users
        nonlocal released
        if released:
            return
        released = True
        _users -= 1
        if _users == 0:
            _undo(_active)

    return release


def _undo(undo: list[Callable[[], None]]) -> None:
    while undo:
        undo.pop()()
