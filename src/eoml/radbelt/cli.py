"""``eoml radbelt ...`` sub-commands: one per workflow step. Heavy imports happen per command."""

from __future__ import annotations

from pathlib import Path

from eoml.core.config import section_from_json


def _cfg(args) -> dict:
    return section_from_json(args.config_json)


def _demo(args) -> None:
    from eoml.radbelt.demo import generate_demo

    generate_demo(args.out_dir, start=args.start, days=args.days, seed=args.seed)


def _ingest(args) -> None:
    from eoml.radbelt.ingest import bin_files

    cfg = _cfg(args)
    bin_files(
        [(path, kind) for kind, path in args.item],
        args.output,
        cfg["grid"],
        energy_kev=cfg["energy_kev"],
        on_bad_file=cfg["on_bad_file"],
    )


def _combine(args) -> None:
    from eoml.radbelt.ingest import combine

    cfg = _cfg(args)
    combine(args.partials, args.output, cfg["grid"], config=cfg)


def _ingest_premeve(args) -> None:
    from eoml.radbelt.ingest import ingest_premeve

    cfg = _cfg(args)
    ingest_premeve(args.input_dir, args.output, cfg["grid"], config=cfg)


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, n))


def _train(args) -> None:
    _set_threads(args.threads)
    from eoml.radbelt.train import train_neural

    train_neural(
        args.store, args.model, args.lead, args.seed, Path(args.out_dir), Path(args.ckpt_dir), _cfg(args)
    )


def _linreg(args) -> None:
    from eoml.radbelt.train import fit_linreg_predictions

    fit_linreg_predictions(args.store, args.lead, args.output, _cfg(args))


def _baseline(args) -> None:
    from eoml.radbelt.baselines import run_baseline

    run_baseline(args.store, args.name, args.lead, args.output, _cfg(args))


def _evaluate(args) -> None:
    from eoml.radbelt.evaluate import evaluate

    evaluate(
        args.predictions,
        args.pe_csv,
        args.onsets_csv,
        _cfg(args),
        pe_seeds_csv=args.pe_seeds_csv,
        onsets_summary_csv=args.onsets_summary_csv,
    )


def _spearman(args) -> None:
    from eoml.radbelt.evaluate import spearman

    spearman(args.store, args.output, _cfg(args))


def _figure(args) -> None:
    from eoml.radbelt import figures

    if args.kind == "maps":
        figures.plot_lt_maps(args.predictions, args.output, args.lead_hours)
    elif args.kind == "timeseries":
        figures.plot_timeseries(args.predictions, args.onsets, args.output, args.L, args.lead_hours)
    elif args.kind == "pe":
        figures.plot_pe_vs_L(args.pe_csv, args.output)
    elif args.kind == "spearman":
        figures.plot_spearman(args.spearman_csv, args.output)


def register(subparsers) -> None:
    parser = subparsers.add_parser("radbelt", help="radiation-belt MeV electron forecasting (PreMevE 2.0)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, func, help_text):
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(func=func)
        return p

    def config_arg(p):
        p.add_argument("--config-json", required=True, help="the radbelt config section as JSON")

    p = add("demo", _demo, "generate demo raw files (MagEIS L3 CDF, POES netCDF, OMNI2 ASCII)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--start", default="2019-01-01")
    p.add_argument("--days", type=int, default=160)
    p.add_argument("--seed", type=int, default=7)

    p = add("ingest", _ingest, "bin raw files (e.g. one day's) onto the (time, L) grid: one partial")
    p.add_argument(
        "--item", nargs=2, action="append", required=True, metavar=("KIND", "PATH"),
        help="a raw file and its kind (rbsp_mageis, poes, omni2_ascii, omni_cdf); repeatable",
    )
    p.add_argument("--output", required=True)
    config_arg(p)

    p = add("combine", _combine, "combine per-file partials into the Zarr store")
    p.add_argument("--partials", nargs="+", required=True)
    p.add_argument("--output", required=True)
    config_arg(p)

    p = add("ingest-premeve", _ingest_premeve, "LANL PreMevE ASCII files into the Zarr store")
    p.add_argument("--input-dir", required=True)
    p.add_argument("--output", required=True)
    config_arg(p)

    p = add("train", _train, "train one neural model for one lead and seed")
    p.add_argument("--store", required=True)
    p.add_argument("--model", required=True, choices=["mlp", "cnn", "lstm"])
    p.add_argument("--lead", type=int, required=True, help="lead in time bins")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--ckpt-dir", required=True)
    p.add_argument("--threads", type=int, default=1)
    config_arg(p)

    p = add("linreg", _linreg, "fit OLS per L-shell and write its predictions")
    p.add_argument("--store", required=True)
    p.add_argument("--lead", type=int, required=True)
    p.add_argument("--output", required=True)
    config_arg(p)

    p = add("baseline", _baseline, "run a baseline (persistence, lpf)")
    p.add_argument("--store", required=True)
    p.add_argument("--name", required=True, choices=["persistence", "lpf"])
    p.add_argument("--lead", type=int, required=True)
    p.add_argument("--output", required=True)
    config_arg(p)

    p = add("evaluate", _evaluate, "PE tables and onset success from prediction files")
    p.add_argument("--predictions", nargs="+", required=True)
    p.add_argument("--pe-csv", required=True)
    p.add_argument("--pe-seeds-csv", required=True)
    p.add_argument("--onsets-csv", required=True)
    p.add_argument("--onsets-summary-csv", required=True)
    config_arg(p)

    p = add("spearman", _spearman, "Spearman correlation of inputs with the target vs lag")
    p.add_argument("--store", required=True)
    p.add_argument("--output", required=True)
    config_arg(p)

    p = add("figure", _figure, "draw one figure")
    p.add_argument("kind", choices=["maps", "timeseries", "pe", "spearman"])
    p.add_argument("--output", required=True)
    p.add_argument("--predictions", nargs="+", default=[])
    p.add_argument("--lead-hours", type=float)
    p.add_argument("--onsets")
    p.add_argument("--L", nargs="+", type=float, default=[3.5, 4.5, 5.5])
    p.add_argument("--pe-csv")
    p.add_argument("--spearman-csv")


__all__ = ["register"]
