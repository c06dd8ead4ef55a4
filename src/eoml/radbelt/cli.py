"""``eoml radbelt <step>``: one sub-command per workflow step. Heavy imports happen per step."""

from __future__ import annotations

from pathlib import Path

from eoml.core.cli import StudyCommands, arg

COMMANDS = StudyCommands()
step = COMMANDS.step
call = COMMANDS.call

STORE = arg("--store", required=True, help="the (time, L) Zarr store")
OUTPUT = arg("--output", required=True)
LEAD = arg("--lead", type=int, required=True, help="lead in time bins")
PREDICTIONS = arg("--predictions", nargs="+", required=True, help="predictions.zarr stores")


@step("demo", "generate demo raw files (MagEIS L3 CDF, POES netCDF, OMNI2 ASCII)",
      arg("--out-dir", required=True))
def _demo(args) -> None:
    from eoml.radbelt.demo import generate_demo

    demo = args.cfg["demo"]
    generate_demo(args.out_dir, start=demo["start"], days=demo["days"], seed=demo["seed"])


@step("ingest", "bin raw files (e.g. one day's) onto the (time, L) grid: one partial",
      arg("--item", nargs=2, action="append", required=True, metavar=("KIND", "PATH"),
          help="a raw file and its kind (rbsp_mageis, poes, omni2_ascii, omni_cdf); repeatable"),
      OUTPUT)
def _ingest(args) -> None:
    from eoml.radbelt.ingest import bin_files

    cfg = args.cfg
    bin_files([(path, kind) for kind, path in args.item], args.output, cfg["grid"],
              energy_kev=cfg["energy_kev"], on_bad_file=cfg["on_bad_file"])


@step("combine", "combine per-file partials into the Zarr store",
      arg("--partials", nargs="+", required=True), OUTPUT)
def _combine(args) -> None:
    from eoml.radbelt.ingest import combine

    combine(args.partials, args.output, args.cfg["grid"], config=args.cfg)


@step("ingest-premeve", "LANL PreMevE ASCII files into the Zarr store",
      arg("--input-dir", required=True), OUTPUT)
def _ingest_premeve(args) -> None:
    from eoml.radbelt.ingest import ingest_premeve

    ingest_premeve(args.input_dir, args.output, args.cfg["grid"], config=args.cfg)


@step("train", "train one neural model for one lead and seed",
      STORE, arg("--model", required=True, choices=["mlp", "cnn", "lstm"]), LEAD,
      arg("--seed", type=int, required=True), arg("--out-dir", required=True),
      arg("--ckpt-dir", required=True), threads=True)
def _train(args) -> None:
    from eoml.radbelt.train import train_neural

    train_neural(args.store, args.model, args.lead, args.seed, Path(args.out_dir), Path(args.ckpt_dir), args.cfg)


call("linreg", "eoml.radbelt.train:fit_linreg_predictions", "fit OLS per L-shell and write its predictions",
     STORE, LEAD, OUTPUT)

call("baseline", "eoml.radbelt.baselines:run_baseline", "run a baseline (persistence, lpf)",
     STORE, arg("--name", required=True, choices=["persistence", "lpf"]), LEAD, OUTPUT)

call("spearman", "eoml.radbelt.evaluate:spearman", "Spearman correlation of inputs with the target vs lag",
     STORE, OUTPUT)

call("figure-maps", "eoml.radbelt.figures:plot_lt_maps", "observed vs forecast L-time maps of one lead",
     PREDICTIONS, OUTPUT, arg("--lead-hours", type=float, required=True), config=False)

call("figure-pe", "eoml.radbelt.figures:plot_pe_vs_L", "performance efficiency versus L-shell",
     arg("--pe-csv", required=True), OUTPUT, config=False)

call("figure-spearman", "eoml.radbelt.figures:plot_spearman", "L-averaged Spearman correlation versus lag",
     arg("--spearman-csv", required=True), OUTPUT, config=False)


@step("evaluate", "PE tables and onset success from prediction files",
      PREDICTIONS, arg("--pe-csv", required=True), arg("--pe-seeds-csv", required=True),
      arg("--onsets-csv", required=True), arg("--onsets-summary-csv", required=True))
def _evaluate(args) -> None:
    from eoml.radbelt.evaluate import evaluate

    evaluate(args.predictions, args.pe_csv, args.onsets_csv, args.cfg, pe_seeds_csv=args.pe_seeds_csv,
             onsets_summary_csv=args.onsets_summary_csv)


@step("figure-timeseries", "observed and forecast flux at a few L-shells with the event windows",
      PREDICTIONS, arg("--lead-hours", type=float, required=True), arg("--onsets", required=True), OUTPUT)
def _figure_timeseries(args) -> None:
    from eoml.radbelt.figures import plot_timeseries

    plot_timeseries(args.predictions, args.onsets, args.output, args.cfg["timeseries_L"], args.lead_hours)
