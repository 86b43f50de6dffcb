"""One command line for the four experiments (options: :mod:`lnutils.cli`)::

    python -m lnutils.experiments mnist select --batch-size 128 [--full-length]
    python -m lnutils.experiments mnist run --profile paper   # both batch sizes; --batch-size: one
    python -m lnutils.experiments mnist run --profile budget  # batch 128, seeds 0-1, 130 epochs
    python -m lnutils.experiments conv select
    python -m lnutils.experiments conv run --profile cpu      # the CPU evidence; paper: a GPU
    python -m lnutils.experiments conv budget                 # cpu parts trained longer (the budget check)
    python -m lnutils.experiments conv keep --seeds 0         # train seed 0 again, keep the probe's networks
    python -m lnutils.experiments rnn run --profile cpu       # the CPU evidence; paper: a GPU
    python -m lnutils.experiments rnn run --profile budget    # seeds 0-1 with the constant phase doubled
    python -m lnutils.experiments rnn keep --seeds 0          # train seed 0 again, keep its networks
    python -m lnutils.experiments rnn bn-study                # the kept BN-LSTM read in several ways
    python -m lnutils.experiments rnn bn-remedies             # the BN-LSTM trained again with a larger ε
    python -m lnutils.experiments transformer run --profile cpu    # or paper (a GPU)
    python -m lnutils.experiments transformer run --profile budget # the cpu profile's decay doubled

Every run writes a result file (JSON) that records its configuration, seeds, data
provenance, versions, commit, device and wall time, and resumes from its checkpoint
when run again.  A result is never replaced by a shorter run, nor by another
configuration unless ``--overwrite`` (the replaced file is kept beside it).
"""

from __future__ import annotations

import argparse
import sys

from lnutils import environment, parts, runs
from lnutils.cli import add_common_arguments, check_writable, positive_int, resolve_common
from lnutils.experiments import bn_lstm, conv, conv_budget, conv_kept, mnist, rnn, transformer


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m lnutils.experiments", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    experiments = top.add_subparsers(dest="experiment", required=True, metavar="{mnist,conv,rnn,transformer}")
    commands = {
        "mnist": ["select", "run"],
        "conv": ["select", "run", "budget", "keep"],
        "rnn": ["run", "keep", "bn-study", "bn-remedies"],
        "transformer": ["run"],
    }
    helps = {
        "mnist": "Figure 6 of Ba et al. 2016 (chapter 2)",
        "conv": "layer norm in convolutional networks (chapter 3)",
        "rnn": "layer norm in recurrent networks (chapter 4)",
        "transformer": "layer norm in Transformers (chapter 5)",
    }
    for name, choices in commands.items():
        sub = experiments.add_parser(name, help=helps[name], description=helps[name])
        sub.add_argument("command", choices=choices)
        if name == "mnist":
            sub.add_argument(
                "--batch-size",
                type=positive_int,
                default=None,
                choices=list(mnist.BATCH_SIZES),
                metavar="{128,4}",
                help="select: the batch size (default 128); run: train only this batch size's part (default: both)",
            )
            sub.add_argument(
                "--train-subset", type=positive_int, default=None, help="select only: use the first n training images"
            )
            sub.add_argument(
                "--full-length",
                action="store_true",
                help=f"select only: train every rate {mnist.FULL_LENGTH_EPOCHS} epochs, choose by the last "
                f"{mnist.SETTLE_EPOCHS} epochs' validation error",
            )
        if name == "conv":
            sub.add_argument(
                "--profile",
                choices=conv.PROFILES,
                default=None,
                help="quick (minutes), cpu (the CPU evidence, hours on one core, resumable) or paper (a GPU)",
            )
            sub.add_argument(
                "--batch-size",
                type=positive_int,
                default=None,
                help="run only: train only the parts of this batch size now (default: every part)",
            )
        if name == "rnn":
            sub.add_argument(
                "--profile",
                choices=rnn.PROFILES,
                default=None,
                help="quick (minutes), cpu (the CPU evidence on one core, resumable; its result file records each "
                "part's hours) or paper (a GPU)",
            )
        if name == "transformer":
            sub.add_argument(
                "--profile",
                choices=transformer.PROFILES,
                default=None,
                help="quick (a minute), cpu (the saved CPU evidence on one core; its result file records each part's "
                "time) or paper (a GPU)",
            )
            sub.add_argument("--steps", type=positive_int, default=None, help="override the profile's training steps")
        add_common_arguments(sub, profile=name == "mnist", epochs=name != "transformer")
        sub.set_defaults(parser=sub)
    return top


# The options each command honours; any other option given is an error (exit 2), never ignored.
FOLDERS = {"device", "results_dir", "checkpoint_dir", "overwrite"}
HONOURED = {
    ("mnist", "select"): FOLDERS | {"batch_size", "epochs", "seeds", "train_subset", "full_length", "time_budget"},
    ("mnist", "run"): FOLDERS | {"batch_size", "profile", "epochs", "seeds", "time_budget"},
    ("conv", "select"): {"device", "results_dir", "overwrite", "epochs"},
    ("conv", "run"): FOLDERS | {"profile", "epochs", "seeds", "time_budget", "batch_size"},
    ("conv", "budget"): FOLDERS | {"time_budget"},
    ("conv", "keep"): {"device", "results_dir", "checkpoint_dir", "profile", "seeds"},
    ("rnn", "run"): FOLDERS | {"profile", "epochs", "seeds", "time_budget"},
    ("rnn", "keep"): {"device", "results_dir", "profile", "seeds"},
    ("rnn", "bn-study"): {"results_dir", "profile", "seeds", "overwrite"},
    ("rnn", "bn-remedies"): FOLDERS | {"seeds"},
    ("transformer", "run"): FOLDERS | {"profile", "steps", "seeds", "time_budget"},
}


def refuse_unused_options(args) -> None:
    """An option the command does not use is an argparse error, named with what the command takes."""
    sub = args.parser
    given = [
        action
        for action in sub._actions
        if action.dest not in ("help", "command") and getattr(args, action.dest, None) != action.default
    ]
    honoured = HONOURED[(args.experiment, args.command)]
    unused = [action.option_strings[0] for action in given if action.dest not in honoured]
    if unused:
        takes = sorted(a.option_strings[0] for a in sub._actions if a.dest in honoured and a.option_strings)
        sub.error(f"{args.experiment} {args.command} does not use {', '.join(unused)}; it takes {', '.join(takes)}")


TRAINING_IMAGES = 55_000  # MNIST's 60,000 training images less the 5,000 held out for validation


def refuse_bad_values(args) -> None:
    """Values an option's type accepts but the command cannot use: an argparse error (exit 2) before any
    work, naming what it takes."""
    sub = args.parser
    if args.experiment == "mnist" and args.command == "select":
        batch = args.batch_size or 128
        if args.train_subset is not None and not batch <= args.train_subset <= TRAINING_IMAGES:
            sub.error(
                f"--train-subset must hold at least one batch ({batch}) and at most the {TRAINING_IMAGES:,} "
                f"training images, got {args.train_subset:,}"
            )
        if args.full_length and args.seeds and len(args.seeds) != 1:
            sub.error(f"--full-length trains one seed per file: pass one --seeds value, got {args.seeds}")
    if args.command == "run" and args.experiment in ("conv", "rnn"):
        if args.experiment == "conv":  # --seeds picks seeds of the profile (a seed outside it trains nothing)
            configs, split = conv.profile_configs(args.profile), True
        else:  # --seeds picks seed parts where the profile is split by seed, else sets the seeds
            named = rnn.profile_configs(args.profile)
            configs, split = list(named.values()), any(rnn.setting_of(name)[1] is not None for name in named)
        seeds = sorted({seed for config in configs for seed in config.seeds})
        if args.seeds and split and (unknown := sorted(set(args.seeds) - set(seeds))):
            sub.error(f"the {args.profile} profile has no seed {unknown}; its seeds are {seeds}")
        batch_sizes = sorted({config.batch_size for config in configs})
        if getattr(args, "batch_size", None) and args.batch_size not in batch_sizes:
            sub.error(f"the {args.profile} profile has no batch size {args.batch_size}; it has {batch_sizes}")


def run_mnist(args, device) -> None:
    if args.command == "select":
        batch_size = args.batch_size or 128
        registered = mnist.short_selection(batch_size)
        epochs = args.epochs or (mnist.FULL_LENGTH_EPOCHS if args.full_length else registered["epochs"])
        try:
            payload = mnist.select_learning_rates_run(
                batch_size,
                epochs,
                seeds=args.seeds or (registered["seeds"] if not args.full_length else (0,)),
                grid=registered["grid"] if not args.full_length else mnist.LEARNING_RATE_GRID,
                extend_edges=registered["extend_edges"] and not args.full_length,
                train_subset=args.train_subset,
                device=device,
                overwrite=args.overwrite,
                full_length=args.full_length,
                time_budget_seconds=args.time_budget,
            )
        except parts.PartBusy as busy:
            print(f"{busy}; nothing to do here")
            return
        if payload["complete"]:
            print("chosen learning rates:", payload["chosen"])
        else:
            print(
                f"the selection stopped after {payload['epochs_done']} of {payload['epochs']} epochs (time budget); "
                "no rates are chosen yet: run the same command again to resume it"
            )
    else:
        waiting = mnist.selection_still_training([args.batch_size] if args.batch_size else mnist.BATCH_SIZES)
        if args.profile == "paper" and waiting:
            args.parser.error(waiting)
        payload = mnist.run_profile(
            args.profile,
            device,
            batch_sizes=[args.batch_size] if args.batch_size else None,
            **profile_options(args),
        )
        print(parts.parts_done_line(payload, mnist.results_file(args.profile)))


def profile_options(args) -> dict:
    """The options every multi-part profile run takes from the command line."""
    return dict(epochs=args.epochs, seeds=args.seeds, overwrite=args.overwrite, time_budget_seconds=args.time_budget)


def print_kept(kept: dict) -> None:
    """What a ``keep`` command kept, and how closely it follows the saved run."""
    print(f"kept {kept['networks']} in {kept['file']}; against the saved run (points of test error):")
    for name, agreement in kept["agreement_with_saved_run"].items():
        print(f"  {name}: largest difference {agreement['largest_difference_points']:.3f}")


def run_conv(args, device) -> None:
    if args.command == "keep":
        for seed in args.seeds or [0]:
            print_kept(
                conv_kept.keep_networks(
                    args.profile or "cpu", "fashion-mnist", seed, device=device, checkpoint_dir=args.checkpoint_dir
                )
            )
    elif args.command == "select":
        print("chosen:", conv.select(device, epochs=args.epochs or 2, overwrite=args.overwrite)["chosen"])
    elif args.command == "budget":
        result = conv_budget.run_budget_check(
            device,
            results_dir=args.results_dir,
            checkpoint_dir=args.checkpoint_dir,
            time_budget_seconds=args.time_budget,
            overwrite=args.overwrite,
        )
        checks = conv_budget.saved_budget_check(args.results_dir)
        print(f"parts done: {list(result['parts'])}; confirmed: {[c['claim'] for c in checks if c['confirmed']]}")
    else:
        batch_sizes = [args.batch_size] if args.batch_size else None
        result = conv.run_profile(args.profile, device, batch_sizes=batch_sizes, **profile_options(args))
        print(parts.parts_done_line(result, conv.results_file(args.profile)))


def run_rnn(args, device) -> None:
    if args.command == "bn-remedies":
        for seed in args.seeds or [bn_lstm.REMEDY_SEED]:
            found = bn_lstm.run_remedies(
                seed, device, results_dir=args.results_dir, checkpoint_dir=args.checkpoint_dir, overwrite=args.overwrite
            )
            print(
                {
                    row["cell"]: (round(row["population"], 2), round(row["batch"], 2))
                    for row in bn_lstm.remedy_numbers(found)
                }
            )
        return
    if args.command in ("keep", "bn-study"):
        profile, seeds = args.profile or "cpu", args.seeds or [0]
        for seed in seeds:
            if args.command == "keep":
                print_kept(rnn.keep_networks(profile, seed, device=device))
            else:
                found = bn_lstm.run_study(profile, seed, overwrite=args.overwrite)
                print({name: round(reading["error"], 2) for name, reading in found["readings"].items()})
        return
    payload = rnn.run_profile(args.profile, device, **profile_options(args))
    print(parts.parts_done_line(payload, rnn.results_file(args.profile)))


def run_transformer(args, device) -> None:
    payload = transformer.run_profile(
        args.profile,
        device,
        steps=args.steps,
        seeds=args.seeds,
        overwrite=args.overwrite,
        time_budget_seconds=args.time_budget,
    )
    done, total = len(payload["parts"]), len(payload["config"]["settings"]) * len(payload["config"]["seeds"])
    print(f"parts done: {done} of {total}; results in {transformer.results_file(args.profile)}")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    refuse_unused_options(args)
    device = resolve_common(args.parser, args)
    refuse_bad_values(args)
    try:
        check_writable(args.parser, "result files", runs.results_dir())
        if args.command in ("run", "budget") or args.experiment == "mnist":
            check_writable(args.parser, "checkpoints", runs.checkpoint_dir())
    except ValueError as error:  # a blank $LNUTILS_RESULTS or $LNUTILS_CHECKPOINTS
        args.parser.error(str(error))
    environment.describe()
    runners = {"mnist": run_mnist, "conv": run_conv, "rnn": run_rnn, "transformer": run_transformer}
    runners[args.experiment](args, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
