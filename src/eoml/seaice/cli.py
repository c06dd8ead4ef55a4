"""``eoml seaice <step>``: one sub-command per workflow step. Heavy imports happen per step."""

from __future__ import annotations

from pathlib import Path

from eoml.core.cli import StudyCommands, arg

COMMANDS = StudyCommands()
step = COMMANDS.step
call = COMMANDS.call

OUTPUT = arg("--output", required=True)
STORES = arg("--stores", nargs="+", required=True, help="scene stores, each named <scene id>.zarr")


def _stores(paths: list[str]) -> dict[str, str]:
    """Scene stores by scene id: the workflow names each store ``<scene id>.zarr``."""
    return {Path(path.rstrip("/")).stem: path for path in paths}


@step("demo", "generate demo Sentinel-1 EW GRDM SAFE products and ice charts", arg("--out-dir", required=True))
def _demo(args) -> None:
    from eoml.seaice.demo import generate_demo

    generate_demo(args.out_dir, args.cfg["demo"])


call("ingest", "eoml.seaice.ingest:ingest_scene", "one SAFE product + ice chart -> scene store at 80 m",
     arg("--safe", required=True), arg("--chart", required=True), OUTPUT, arg("--scene", required=True))

call("figure-scene", "eoml.seaice.figures:plot_scene_predictions",
     "HH, HV, chart and every init's prediction of one test scene",
     arg("--store", required=True), arg("--predictions", nargs="+", required=True), OUTPUT, config=False)

call("figure-confusions", "eoml.seaice.figures:plot_confusions",
     "row-normalised confusion matrices per init and season",
     arg("--confusion", required=True), OUTPUT, config=False)

call("figure-scores", "eoml.seaice.figures:plot_scores", "F1 / IoU per init and test scene, one dot per seed",
     arg("--metrics", required=True), OUTPUT, config=False)


@step("train", "train one segmenter (init x seed)",
      STORES, arg("--init", required=True, choices=["imagenet", "random"]), arg("--seed", type=int, required=True),
      arg("--out-dir", required=True), arg("--ckpt-dir", required=True), threads=True)
def _train(args) -> None:
    from eoml.seaice.train import train_segmenter

    cfg = args.cfg
    train_segmenter(_stores(args.stores), cfg["encoder"], args.init, args.seed, Path(args.out_dir),
                    Path(args.ckpt_dir), cfg.without("encoder"))


@step("predict", "predict the test scenes with a trained segmenter", arg("--model", required=True), STORES,
      OUTPUT, threads=True)
def _predict(args) -> None:
    from eoml.seaice.train import predict_scenes

    predict_scenes(args.model, _stores(args.stores), args.output, tile=args.cfg["predict_tile"])


@step("evaluate", "segmentation.csv, summary.csv, confusion.csv",
      arg("--predictions", nargs="+", required=True), STORES, arg("--metrics", required=True),
      arg("--summary", required=True), arg("--confusion", required=True), config=False)
def _evaluate(args) -> None:
    from eoml.seaice.evaluate import evaluate

    evaluate(args.predictions, _stores(args.stores), args.metrics, args.summary, args.confusion)
