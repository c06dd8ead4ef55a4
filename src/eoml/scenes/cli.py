"""``eoml scenes <step>``: one sub-command per workflow step. Heavy imports happen per step."""

from __future__ import annotations

from pathlib import Path

from eoml.core.cli import StudyCommands, arg

COMMANDS = StudyCommands()
step = COMMANDS.step
call = COMMANDS.call

OUTPUT = arg("--output", required=True)
RUNS = arg("--runs", nargs="+", required=True, help="training run folders (each with run.json, predictions.csv)")
ACCURACY = arg("--accuracy", required=True, help="metrics/accuracy.csv")


@step("demo", "generate the demo scene dataset (UC Merced layout, RGB TIFFs in class folders)",
      arg("--out-dir", required=True))
def _demo(args) -> None:
    from eoml.scenes.demo import generate_demo

    generate_demo(args.out_dir, args.cfg["demo"])


@step("ingest", "one image-folder dataset -> scene store (resized RGB, labels, sha256, split)",
      arg("--name", required=True), arg("--root", required=True), arg("--layout", required=True), OUTPUT)
def _ingest(args) -> None:
    from eoml.scenes.ingest import build_store

    build_store(args.name, args.root, args.layout, args.output, args.cfg)


@step("train", "train one classifier (dataset x backbone x depth x mode x init x optimizer x seed)",
      arg("--store", required=True), arg("--dataset", required=True), arg("--backbone", required=True),
      arg("--depth", required=True), arg("--mode", required=True), arg("--init", required=True),
      arg("--optimizer", required=True), arg("--seed", type=int, required=True),
      arg("--init-model", default=None, help="model.pt of the run on the source dataset (init = a dataset)"),
      arg("--out-dir", required=True), arg("--ckpt-dir", required=True), threads=True)
def _train(args) -> None:
    from eoml.scenes.train import train_classifier

    job = {"dataset": args.dataset, "backbone": args.backbone, "depth": args.depth, "mode": args.mode,
           "optimizer": args.optimizer, "seed": args.seed, "init": args.init}
    train_classifier(args.store, Path(args.out_dir), Path(args.ckpt_dir), job, args.cfg, args.init_model)


@step("baseline", "colour-histogram classifier of one dataset (the floor)", arg("--store", required=True),
      arg("--out-dir", required=True))
def _baseline(args) -> None:
    from eoml.scenes.baselines import run_baseline

    cfg = args.cfg["baseline"]
    run_baseline(args.store, args.out_dir, bins=cfg["bins"], classifier=cfg["classifier"], seed=cfg["seed"])


@step("evaluate", "accuracy / macro F1 / kappa of every run -> accuracy.csv, best.csv, summary.csv",
      RUNS, arg("--accuracy", required=True), arg("--best", required=True), arg("--summary", required=True),
      arg("--summary-md", required=True), config=False)
def _evaluate(args) -> None:
    from eoml.scenes.evaluate import best_table, score_runs, summary_table

    score_runs(args.runs, args.accuracy)
    best_table(args.accuracy, args.best)
    summary_table(args.accuracy, args.summary, markdown=args.summary_md)


call("figure-curves", "eoml.scenes.figures:plot_accuracy_curves", "accuracy per epoch of every configuration",
     RUNS, OUTPUT, config=False)
call("figure-grid", "eoml.scenes.figures:plot_accuracy_grid",
     "test accuracy: datasets x depths x modes, one panel per backbone", ACCURACY, OUTPUT, config=False)
call("figure-gap", "eoml.scenes.figures:plot_accuracy_gap", "train - test accuracy gap", ACCURACY, OUTPUT,
     config=False)


@step("figure-confusions", "test confusion matrix of the best run of each dataset", RUNS, ACCURACY,
      arg("--stores", nargs="+", required=True, help="scene stores, each named <dataset>.zarr"), OUTPUT,
      config=False)
def _figure_confusions(args) -> None:
    from eoml.scenes.data import class_names, open_scene_store
    from eoml.scenes.figures import plot_best_confusions

    names = {Path(s.rstrip("/")).stem: class_names(open_scene_store(s)) for s in args.stores}
    plot_best_confusions(args.runs, args.accuracy, names, args.output)


call("figure-gradcam", "eoml.scenes.figures:plot_best_gradcam",
     "Grad-CAM maps of test images with the best run of one dataset",
     RUNS, ACCURACY, arg("--store", required=True), arg("--dataset", required=True), OUTPUT,
     arg("--n-images", type=int, required=True), config=False, threads=True)
