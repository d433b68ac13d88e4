"""The run report (codealign.pipeline.run_report): its stage table and its plots."""

import json

import pytest

from codealign.pipeline import Run, make_config


def _eval(pass1: float, verdicts: dict) -> dict:
    return {"model": "m", "pass@1": pass1, "se": 0.1, "per_task": {"a": pass1, "b": pass1},
            "truncation_rate": 0.0, "compile_error_rate": 0.25, "samples": sum(verdicts.values()),
            "verdicts": verdicts, "seconds": 1.0}


@pytest.fixture
def finished_run(tmp_path):
    """A run directory whose stages have all recorded their summaries, and one logged DPO step."""
    run = Run(make_config("verilog", overrides=["method=dpo"]), tmp_path, quiet=True)
    run.finish("tasks", {"train_tasks": 2, "eval_tasks": 2, "seconds": 0.1})
    run.finish("eval_before", _eval(0.25, {"PASS": 1, "FAIL": 2, "COMPILE_ERROR": 1}))
    run.finish("execute", {"verdicts": {"PASS": 3, "FAIL": 5}, "cached": 0, "pass_rate": 0.375, "seconds": 2.0})
    run.finish("dpo", {"model": "m2", "stopped_reason": None, "seconds": 3.0})
    run.finish("eval_after", _eval(0.5, {"PASS": 2, "FAIL": 2}))
    log = tmp_path / "dpo" / "stage-0" / "train_log.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps({"step": 1, "loss": 0.69, "rewards/margins": 0.01}) + "\n")
    return run


def test_stage_table_lists_the_evaluation_stages_with_their_verdict_counts(finished_run):
    from codealign.pipeline.run_report import write_report

    write_report(finished_run)
    md = (finished_run.dir / "report.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    assert "FAIL 2, PASS 1, COMPILE_ERROR 1" in rows["eval_before"]
    assert "PASS 2, FAIL 2" in rows["eval_after"]
    assert "FAIL 5, PASS 3" in rows["execute"]


def test_a_dpo_curve_with_one_logged_point_is_drawn(finished_run):
    import matplotlib.image

    from codealign.pipeline.run_report import write_report

    write_report(finished_run)
    pixels = matplotlib.image.imread(finished_run.dir / "dpo_curves.png")[..., :3]
    loss_blue = (abs(pixels - [0x1F / 255, 0x77 / 255, 0xB4 / 255]).max(axis=-1) < 0.08).sum()
    assert loss_blue > 0


def test_the_rounds_plot_shows_method_and_control_per_round_and_the_pool_pass_rate(tmp_path):
    import matplotlib.image

    from codealign.pipeline.run_report import write_report

    run = Run(make_config("verilog", overrides=["method=rft", "rounds=2", "eval.every_round=true"]), tmp_path,
              quiet=True)
    run.finish("eval_before", _eval(0.25, {"PASS": 1, "FAIL": 3}))
    run.finish("execute", {"verdicts": {"PASS": 1, "FAIL": 3}, "pass_rate": 0.25})
    run.finish("eval@1", _eval(0.5, {"PASS": 2, "FAIL": 2}))
    run.finish("execute@2", {"verdicts": {"PASS": 3, "FAIL": 1}, "pass_rate": 0.75})
    run.finish("eval_after", _eval(0.75, {"PASS": 3, "FAIL": 1}))
    run.finish("eval_control", _eval(0.25, {"PASS": 1, "FAIL": 3}))
    report = write_report(run)
    assert report["pool_pass_rate"] == [{"round": 1, "pass_rate": 0.25}, {"round": 2, "pass_rate": 0.75}]
    assert [(row["round"], row["pass@1"]) for row in report["per_round"]] == [(1, 0.5), (2, 0.75)]
    pixels = matplotlib.image.imread(tmp_path / "rounds.png")[..., :3]
    for colour in ((0x3B, 0x6E, 0xA8), (0xC0, 0x50, 0x4D), (0x4F, 0x8A, 0x3C)):  # method, control, pool
        assert (abs(pixels - [c / 255 for c in colour]).max(axis=-1) < 0.08).sum() > 0, colour
