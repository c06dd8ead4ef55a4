"""``eoml lst <step>``: one sub-command per workflow step. Heavy imports happen per step."""

from __future__ import annotations

from pathlib import Path

from eoml.core.cli import StudyCommands, arg

COMMANDS = StudyCommands()
step = COMMANDS.step

OUTPUT = arg("--output", required=True)
INPUTS = arg("--inputs", required=True, help="the evaluation inputs store (eval/inputs.zarr)")
PATCHES = arg("--patches", required=True, help="the patch store (patches.zarr)")


@step("demo", "generate demo MOD11A1 / MOD09GQ HDF4 granules and validation GeoTIFFs",
      arg("--out-dir", required=True))
def _demo(args) -> None:
    from eoml.lst.demo import generate_demo

    generate_demo(args.out_dir, args.cfg)


@step("ingest", "one MOD11A1 + MOD09GQ pair -> scene store (LST 1 km, NDVI 250 m)",
      arg("--mod11a1", required=True), arg("--mod09gq", required=True), OUTPUT)
def _ingest(args) -> None:
    from eoml.lst.ingest import ingest_scene

    ingest_scene(args.mod11a1, args.mod09gq, args.output, args.cfg)


@step("patches", "scene stores -> patch store (valid patches, split by date)",
      arg("--scenes", nargs="+", required=True), OUTPUT)
def _patches(args) -> None:
    from eoml.lst.ingest import extract_patches

    extract_patches(args.scenes, args.output, args.cfg)


@step("eval-inputs", "held-out patches + validation scenes -> evaluation inputs", PATCHES, OUTPUT)
def _eval_inputs(args) -> None:
    from eoml.lst.evaluate import build_eval_inputs

    cfg = args.cfg
    build_eval_inputs(args.patches, cfg.pop("scenes"), args.output, cfg)


@step("baseline", "run one classical sharpener on the evaluation inputs",
      arg("--method", required=True, choices=["bilinear", "bicubic", "tsharp", "atprk", "aatprk"]),
      INPUTS, OUTPUT, threads=True)
def _baseline(args) -> None:
    from eoml.lst.evaluate import predict_baseline

    predict_baseline(args.method, args.inputs, args.output, args.cfg["options"])


@step("train", "train one multi-residual U-Net", PATCHES, arg("--out-dir", required=True),
      arg("--ckpt-dir", required=True), threads=True)
def _train(args) -> None:
    from eoml.lst.train import train_model

    cfg = args.cfg
    spec = cfg.pop("spec")
    train_model(args.patches, spec, Path(args.out_dir), Path(args.ckpt_dir), cfg, int(cfg.pop("seed")))


@step("predict", "apply a trained U-Net to the evaluation inputs", arg("--model", required=True), INPUTS,
      OUTPUT, config=False, threads=True)
def _predict(args) -> None:
    from eoml.lst.evaluate import predict_model

    predict_model(args.model, args.inputs, args.output)


@step("evaluate", "PSNR / SSIM / RMSE of every method -> sharpening.csv, ranking.csv",
      INPUTS, arg("--predictions", nargs="+", required=True), arg("--metrics", required=True),
      arg("--ranking", required=True))
def _evaluate(args) -> None:
    from eoml.lst.evaluate import evaluate

    evaluate(args.inputs, args.predictions, args.metrics, args.ranking, args.cfg)


@step("figure-maps", "truth, input and every method's sharpened LST of one dataset",
      INPUTS, arg("--predictions", nargs="+", required=True), arg("--dataset", required=True), OUTPUT,
      threads=True)
def _figure_maps(args) -> None:
    from eoml.lst.figures import plot_maps

    plot_maps(args.inputs, args.predictions, args.dataset, args.output, args.cfg)


@step("figure-losses", "training and validation loss curves of the U-Nets",
      arg("--histories", nargs="+", required=True), OUTPUT, config=False, threads=True)
def _figure_losses(args) -> None:
    from eoml.lst.figures import plot_loss_curves

    plot_loss_curves(args.histories, args.output)


@step("figure-metrics", "PSNR / SSIM / RMSE of every method and dataset", arg("--metrics", required=True),
      OUTPUT, config=False, threads=True)
def _figure_metrics(args) -> None:
    from eoml.lst.figures import plot_metrics

    plot_metrics(args.metrics, args.output)


@step("figure-modis250m", "a held-out MODIS region sharpened to 250 m by every method",
      PATCHES, arg("--scene", nargs="+", required=True), arg("--models", nargs="*", default=[]), OUTPUT,
      threads=True)
def _figure_modis250m(args) -> None:
    from eoml.lst.figures import plot_modis_250m

    plot_modis_250m(args.patches, args.scene, args.models, args.output, args.cfg)
