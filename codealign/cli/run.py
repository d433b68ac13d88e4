"""``codealign run DOMAIN [--preset P] [key=value ...]``: the whole loop in one run directory, resumable
(:func:`codealign.pipeline.run_pipeline` on the config :func:`codealign.pipeline.make_config` builds)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from codealign.cli.common import (cache_path, domain_flags, execution_flags, make_domain, option_values,
                                  output_flags, quiet)
from codealign.errors import UserError


def register(sub) -> None:
    from codealign.domains import domain_names, preset_names
    from codealign.pipeline import CONTROLS

    p = sub.add_parser("run", help="the whole loop for a domain, resumable")
    output_flags(p)
    execution_flags(p)
    p.add_argument("domain", help=f"one of: {', '.join(domain_names())}")
    p.add_argument("--preset", default=None, help=f"a published recipe: {', '.join(preset_names())}")
    p.add_argument("--config", default=None, help="YAML over the pipeline config (applied after the preset)")
    p.add_argument("--tasks", default=None, help="training tasks JSONL (default: the domain's bundled tasks)")
    p.add_argument("--allow-weak", action="store_true", help="also train on given tasks the test-strength "
                   "screen marks weak (= allow_weak=true)")
    p.add_argument("--model", default=None, help="starting model: hub id or local path (default: codealign-tiny)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, mps")
    p.add_argument("--eval", dest="eval_benchmark", default=None, help="evaluate on this benchmark (with --data)")
    p.add_argument("--data", default=None, help="benchmark data for --eval")
    p.add_argument("--run-dir", default=None, help="run directory (default: runs/<domain>[-<preset>])")
    p.add_argument("--control", default=None, help=f"also train a matched control from the same start with as "
                   f"many optimizer steps and report both: {', '.join(CONTROLS)} (default: sft; = control=...)")
    p.add_argument("--stages", default=None, help="comma-separated subset of the run's stages: tasks, sft, "
                   "eval_before, generate, execute, pairs, rft, dpo, eval_after, control-sft, control-rft, "
                   "eval_control, report; round r > 1 stages end in @r (dpo@2)")
    p.add_argument("overrides", nargs="*", default=[], help="config overrides key=value (e.g. dpo.beta=0.2)")
    domain_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from codealign.config import dotted_keys, load_yaml
    from codealign.domains import domain_class
    from codealign.pipeline import make_config, run_pipeline, stage_plan, unread_keys

    cls = domain_class(args.domain)  # before any file check: an unknown name is a UserError naming the closest
    make_domain(args.domain, args)  # a flag of another domain is refused here
    overrides = list(args.overrides)
    overrides += [f"domain_options.{k}={json.dumps(v)}" for k, v in option_values(args, cls.options).items()]
    for flag, key in ((args.tasks, "tasks"), (args.model, "model"), (args.device, "device"),
                      (args.eval_benchmark, "eval.benchmark"), (args.data, "eval.data"), (args.control, "control")):
        if flag is not None:
            if key == "tasks" and not Path(flag).is_file():
                raise UserError(f"{flag}: no such tasks file")
            overrides.append(f"{key}={json.dumps(flag)}")
    overrides += ["allow_weak=true"] if args.allow_weak else []
    if args.model and not _model_exists(args.model):
        raise UserError(f"model {args.model!r}: no such local folder (and hub names cannot be fetched offline)")
    config = make_config(args.domain, args.preset, args.config, overrides)
    plan = stage_plan(config)
    unread = unread_keys([o.split("=", 1)[0] for o in args.overrides], plan)
    if unread:
        print(f"codealign: note: no stage of this run (method={config.method}) reads {', '.join(unread)}: "
              "the override changes nothing", file=sys.stderr)
    unread = unread_keys(dotted_keys(load_yaml(args.config)), plan) if args.config else []
    if unread:
        print(f"codealign: note: no stage of this run (method={config.method}) reads {', '.join(unread)} of "
              f"{args.config}: those settings change nothing", file=sys.stderr)
    run_dir = args.run_dir or f"runs/{args.domain}{'-' + args.preset if args.preset else ''}"
    stages = [s.strip() for s in args.stages.split(",")] if args.stages else None
    report = run_pipeline(config, run_dir, stages=stages, backend=args.backend, executor=args.executor,
                          workers=args.workers, cache=cache_path(args), quiet=quiet(args))
    if not quiet(args) and "before" in report:
        b, a = report["before"], report["after"]
        print(f"pass@1 before {b['pass@1']:.3f} ± {b['se']:.3f}   after {a['pass@1']:.3f} ± {a['se']:.3f}   "
              f"(diff {report['diff']:+.3f} ± {report['diff_se']:.3f}, paired over {report['eval_tasks']} tasks)")
        if report["control"]:
            c, vs = report["control"], report["method_vs_control"]
            print(f"pass@1 {c['kind']} control {c['pass@1']:.3f} ± {c['se']:.3f}   method - control "
                  f"{vs['diff']:+.3f} ± {vs['diff_se']:.3f}   (optimizer steps: method "
                  f"{report['optimizer_steps']['method']}, control {report['optimizer_steps']['control']})")
        print(f"report: {report['report_md']}")
    stopped = next((info["stopped_reason"] for info in report.get("stages", report).values()
                    if isinstance(info, dict) and info.get("stopped_reason")), None)
    if stopped:
        print(f"codealign: DPO stopped by the collapse monitor: {stopped}", file=sys.stderr)
        report["exit_code"] = 1
    return report


def _model_exists(name: str) -> bool:
    if name == "codealign-tiny" or Path(name).is_dir():
        return True
    if os.environ.get("HF_HUB_OFFLINE") == "1" or "/" not in name:
        return False
    return True
