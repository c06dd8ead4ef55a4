"""``eoml lst <step>``: one sub-command per workflow step. Heavy imports happen per step."""

from __future__ import annotations

from pathlib import Path

from eoml.core.cli import StudyCommands, arg

COMMANDS = StudyCommands()
step = COMMANDS.step
call = COMMANDS.call

OUTPUT = arg("--output", required=True)
INPUTS = arg("--inputs", required=True, help="the evaluation inputs store (eval/inputs.zarr)")
PATCHES = arg("--patches", required=True, help="the patch store (patches.zarr)")
PREDICTIONS = arg("--predictions", nargs="+", required=True, help="every method's predictions (<method>.zarr)")

call("ingest", "eoml.lst.ingest:ingest_scene", "one MOD11A1 + MOD09GQ pair -> scene store (LST 1 km, NDVI 250 m)",
     arg("--mod11a1", required=True), arg("--mod09gq", required=True), OUTPUT)

call("patches", "eoml.lst.ingest:extract_patches", "scene stores -> patch store (valid patches, split by date)",
     arg("--scenes", nargs="+", required=True), OUTPUT)

call("predict", "eoml.lst.evaluate:predict_model", "apply a trained U-Net to the evaluation inputs",
     arg("--model", required=True), INPUTS, OUTPUT, config=False, threads=True)

call("evaluate", "eoml.lst.evaluate:evaluate", "PSNR / SSIM / RMSE of every method -> sharpening.csv, ranking.csv",
     INPUTS, PREDICTIONS, arg("--metrics", required=True), arg("--ranking", required=True))

call("figure-maps", "eoml.lst.figures:plot_maps", "truth, input and every method's sharpened LST of one dataset",
     INPUTS, PREDICTIONS, arg("--dataset", required=True), OUTPUT, config=False, threads=True)

call("figure-losses", "eoml.lst.figures:plot_loss_curves", "training and validation loss curves of the U-Nets",
     arg("--histories", nargs="+", required=True), OUTPUT, config=False, threads=True)

call("figure-metrics", "eoml.lst.figures:plot_metrics", "PSNR / SSIM / RMSE of every method and dataset",
     arg("--metrics", required=True), OUTPUT, config=False, threads=True)

call("figure-modis250m", "eoml.lst.figures:plot_modis_250m",
     "a held-out MODIS region sharpened to 250 m by every method",
     PATCHES, arg("--scene", nargs="+", required=True), arg("--models", nargs="*", default=[]), OUTPUT,
     threads=True)


@step("demo", "generate demo MOD11A1 / MOD09GQ HDF4 granules and validation GeoTIFFs",
      arg("--out-dir", required=True))
def _demo(args) -> None:
    from eoml.lst.demo import generate_demo

    generate_demo(args.out_dir, args.cfg["demo"])


@step("eval-inputs", "held-out patches + validation scenes -> evaluation inputs", PATCHES, OUTPUT)
def _eval_inputs(args) -> None:
    from eoml.lst.evaluate import build_eval_inputs

    cfg = args.cfg
    build_eval_inputs(args.patches, cfg["scenes"], args.output, cfg.without("scenes"))


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
    train_model(args.patches, cfg["spec"], Path(args.out_dir), Path(args.ckpt_dir), cfg.without("spec", "seed"),
                int(cfg["seed"]))
