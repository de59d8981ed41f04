"""The live view: phases as they end, one line per logged step, problems surfaced."""

from __future__ import annotations

import io

from local_mode.progress import ProgressView


class _Utf8(io.StringIO):
    encoding = "utf-8"


def _view(verbose=False):
    out = _Utf8()
    ticks = iter(range(1000))
    return ProgressView(out, verbose=verbose, clock=lambda: float(next(ticks))), out


def test_job_log_lines_become_phases_and_steps():
    view, out = _view()
    view.max_steps = 20
    for line in [
        "[gr00t-sm] phase=setup seconds=0.010",
        "[gr00t-sm] phase=dataset seconds=0.420",
        "[gr00t-sm] INFO base model served by tier 'none' in 0.00 s: None",
        "[gr00t-sm] phase=model seconds=0.001",
        "{'loss': 1.25, 'grad_norm': 3.1, 'learning_rate': 0.0001, 'epoch': 0.5}",
        "[gr00t-sm] step=10 samples_per_second=40.000",
        "{'loss': 0.75, 'grad_norm': 2.0, 'learning_rate': 5e-05, 'epoch': 1.0}",
        "[gr00t-sm] step=20 samples_per_second=41.000",
        "{'train_runtime': 3.2, 'train_loss': 0.9, 'epoch': 1.0}",
        "[gr00t-sm] phase=training seconds=3.500",
        "[gr00t-sm] phase=upload seconds=0.300",
    ]:
        view.job_line("algo-1", line)
    text = out.getvalue()
    assert "phase=setup" not in text and "setup" not in text  # folded away
    assert "• dataset    0.4 s" in text and "• model      0.0 s (served by none)" in text
    assert "step 10/20  loss 1.2500" in text and "step 20/20  loss 0.7500" in text
    assert "• training   3.5 s, 20 steps" in text and "• upload     0.3 s" in text
    assert view.final_loss == 0.9 and view.last_step == 20 and view.phase_seconds["upload"] == 0.3


def test_followers_do_not_drive_the_view_but_their_errors_show():
    view, out = _view()
    view.job_line("algo-2", "[gr00t-sm] phase=dataset seconds=1.0")
    view.job_line("algo-2", "[gr00t-sm] ERROR rendezvous timed out")
    text = out.getvalue()
    assert "dataset" not in text and "algo-2: error: rendezvous timed out" in text


def test_verbose_echoes_every_line_and_ascii_fallback():
    out = io.StringIO()  # no encoding attribute worth trusting: ASCII marks
    view = ProgressView(out, verbose=True, clock=lambda: 0.0)
    view.job_line("algo-1", "some trainer output")
    view.step("launch", "job started")
    view.step("job", "Failed", ok=False)
    assert "some trainer output" in out.getvalue()
    assert " ok launch " in out.getvalue() and " XX job " in out.getvalue()


def test_error_lines_and_their_problem_lists_are_what_a_failure_shows():
    from local_mode.progress import problem_lines

    log = [
        "algo-1 | [gr00t-sm] phase=model seconds=0.0",
        "algo-1 | [gr00t-sm] warning: baseModelPath is ignored",
        "algo-1 | [gr00t-sm] error: A video of the dataset cannot be decoded (1 problem(s)):",
        "algo-1 |   - episode 0: videos/x.mp4 cannot be decoded",
        "algo-1 | Traceback (most recent call last):",
        "algo-1 | [gr00t-sm] ERROR the trainer exited with code 1",
    ]
    assert problem_lines(log) == [log[2], log[3], log[5]]
    view, out = _view()
    for line in log:
        view.job_line("algo-1", line.split(" | ", 1)[1])
    text = out.getvalue()
    assert "algo-1: error: A video of the dataset cannot be decoded" in text
    assert "algo-1: - episode 0: videos/x.mp4 cannot be decoded" in text and "Traceback" not in text
