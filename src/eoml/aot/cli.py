"""``eoml aot <step>``: one sub-command per workflow step. Heavy imports happen per step."""

from __future__ import annotations

from eoml.core.cli import StudyCommands, arg
from eoml.core.config import section_from_json

COMMANDS = StudyCommands()
step = COMMANDS.step
call = COMMANDS.call

OUTPUT = arg("--output", required=True)
STORE = arg("--store", required=True, help="the study's store (store.zarr)")
PREDICTIONS = arg("--predictions", nargs="+", required=True, help="prediction stores of the runs and baselines")
SCORES = arg("--scores", required=True, help="scores.csv")


@step("demo", "generate the demo's 8-day AOT series as NEO float GeoTIFFs and MOD08_E3 HDF4 granules",
      arg("--out-dir", required=True))
def _demo(args) -> None:
    from eoml.aot.demo import generate_demo

    generate_demo(args.out_dir, args.cfg["demo"])


@step("ingest", "raw composites -> (time, lat, lon) store on the study grid",
      arg("--files", nargs="+", required=True), arg("--source", required=True), OUTPUT)
def _ingest(args) -> None:
    from eoml.aot.ingest import ingest

    ingest(args.files, args.source, args.output, args.cfg)


@step("train", "train one configuration with one seed; predict its validation and test targets",
      STORE, arg("--config-id", required=True), arg("--run-json", required=True, help="the configuration as JSON"),
      arg("--seed", type=int, required=True), arg("--out-dir", required=True), arg("--ckpt-dir", required=True),
      threads=True)
def _train(args) -> None:
    from eoml.aot.train import train_run

    train_run(args.store, args.config_id, section_from_json(args.run_json), args.seed, args.out_dir,
              args.ckpt_dir, args.cfg)


@step("predict", "a trained model's probability maps of the validation and test targets",
      arg("--model", required=True), STORE, OUTPUT, threads=True)
def _predict(args) -> None:
    from eoml.aot.train import predict_model

    predict_model(args.model, args.store, args.output, args.cfg)


@step("baseline", "persistence or climatology probability maps of the validation and test targets",
      arg("--name", required=True), STORE, OUTPUT)
def _baseline(args) -> None:
    from eoml.aot.baselines import run_baseline

    run_baseline(args.name, args.store, args.output, args.cfg)


@step("evaluate", "scores.csv, criteria.csv and the paper's tables", STORE, PREDICTIONS,
      arg("--out-dir", required=True))
def _evaluate(args) -> None:
    from eoml.aot.evaluate import evaluate

    evaluate(args.store, args.predictions, args.out_dir, args.cfg)


@step("figure-maps", "inputs, target, probability and mask of every model for test dates", STORE, PREDICTIONS, SCORES,
      OUTPUT)
def _figure_maps(args) -> None:
    from eoml.aot.figures import plot_maps

    plot_maps(args.store, args.predictions, args.scores, args.output, n_dates=int(args.cfg["figures"]["test_dates"]))


call("figure-pr-curves", "eoml.aot.figures:plot_pr_curves", "test precision-recall curves",
     STORE, PREDICTIONS, SCORES, OUTPUT, config=False)
call("figure-input-length", "eoml.aot.figures:plot_input_length", "test AUC-PR and RMSE vs input length (mean ± 2σ)",
     SCORES, OUTPUT, config=False)
call("figure-batch-size", "eoml.aot.figures:plot_batch_size", "test AUC-PR and RMSE vs batch size (mean ± 2σ)",
     SCORES, OUTPUT, config=False)
call("figure-thresholds", "eoml.aot.figures:plot_thresholds", "validation F1, accuracy, Jaccard vs threshold",
     STORE, PREDICTIONS, SCORES, OUTPUT, config=False)
call("figure-skill-map", "eoml.aot.figures:plot_skill_map", "per-pixel Brier skill against persistence",
     STORE, PREDICTIONS, SCORES, OUTPUT, config=False)
