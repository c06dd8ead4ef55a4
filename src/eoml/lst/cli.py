"""``eoml lst ...`` sub-commands: one per workflow step. Heavy imports happen per command."""

from __future__ import annotations

from pathlib import Path

from eoml.core.config import section_from_json


def _cfg(args) -> dict:
    return section_from_json(args.config_json)


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, n))


def _demo(args) -> None:
    from eoml.lst.demo import generate_demo

    generate_demo(args.out_dir, _cfg(args))


def _ingest(args) -> None:
    from eoml.lst.ingest import ingest_scene

    ingest_scene(args.mod11a1, args.mod09gq, args.output, _cfg(args))


def _patches(args) -> None:
    from eoml.lst.ingest import extract_patches

    extract_patches(args.scenes, args.output, _cfg(args))


def _eval_inputs(args) -> None:
    from eoml.lst.evaluate import build_eval_inputs

    cfg = _cfg(args)
    build_eval_inputs(args.patches, cfg.pop("scenes", []), args.output, cfg)


def _baseline(args) -> None:
    _set_threads(args.threads)
    from eoml.lst.evaluate import predict_baseline

    predict_baseline(args.method, args.inputs, args.output, _cfg(args).get("options", {}))


def _train(args) -> None:
    _set_threads(args.threads)
    from eoml.lst.train import train_model

    cfg = _cfg(args)
    spec = cfg.pop("spec")
    train_model(args.patches, spec, Path(args.out_dir), Path(args.ckpt_dir), cfg, int(cfg.pop("seed", 0)))


def _predict(args) -> None:
    _set_threads(args.threads)
    from eoml.lst.evaluate import predict_model

    predict_model(args.model, args.inputs, args.output)


def _evaluate(args) -> None:
    from eoml.lst.evaluate import evaluate

    evaluate(args.inputs, args.predictions, args.metrics, args.ranking, _cfg(args))


def _figure(args) -> None:
    _set_threads(1)
    from eoml.lst import figures

    if args.kind == "maps":
        figures.plot_maps(args.inputs, args.predictions, args.dataset, args.output, _cfg(args))
    elif args.kind == "losses":
        figures.plot_loss_curves(args.histories, args.output)
    elif args.kind == "metrics":
        figures.plot_metrics(args.metrics, args.output)
    elif args.kind == "modis250m":
        figures.plot_modis_250m(args.patches, args.scene, args.models, args.output, _cfg(args))


def register(subparsers) -> None:
    parser = subparsers.add_parser("lst", help="MODIS LST super-resolution (MRUNet vs classical sharpeners)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, func, help_text, config=True):
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(func=func)
        if config:
            p.add_argument("--config-json", required=True, help="the lst config keys this step reads, as JSON")
        return p

    p = add("demo", _demo, "generate demo MOD11A1 / MOD09GQ HDF4 granules and validation GeoTIFFs")
    p.add_argument("--out-dir", required=True)

    p = add("ingest", _ingest, "one MOD11A1 + MOD09GQ pair -> scene store (LST 1 km, NDVI 250 m)")
    p.add_argument("--mod11a1", required=True)
    p.add_argument("--mod09gq", required=True)
    p.add_argument("--output", required=True)

    p = add("patches", _patches, "scene stores -> patch store (valid patches, split by date)")
    p.add_argument("--scenes", nargs="+", required=True)
    p.add_argument("--output", required=True)

    p = add("eval-inputs", _eval_inputs, "held-out patches + validation scenes -> evaluation inputs")
    p.add_argument("--patches", required=True)
    p.add_argument("--output", required=True)

    p = add("baseline", _baseline, "run one classical sharpener on the evaluation inputs")
    p.add_argument("--method", required=True, choices=["bilinear", "bicubic", "tsharp", "atprk", "aatprk"])
    p.add_argument("--inputs", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--threads", type=int, default=1)

    p = add("train", _train, "train one multi-residual U-Net")
    p.add_argument("--patches", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--ckpt-dir", required=True)
    p.add_argument("--threads", type=int, default=1)

    p = add("predict", _predict, "apply a trained U-Net to the evaluation inputs", config=False)
    p.add_argument("--model", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--threads", type=int, default=1)

    p = add("evaluate", _evaluate, "PSNR / SSIM / RMSE of every method -> sharpening.csv, ranking.csv")
    p.add_argument("--inputs", required=True)
    p.add_argument("--predictions", nargs="+", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--ranking", required=True)

    p = add("figure", _figure, "draw one figure")
    p.add_argument("kind", choices=["maps", "losses", "metrics", "modis250m"])
    p.add_argument("--output", required=True)
    p.add_argument("--inputs")
    p.add_argument("--predictions", nargs="*", default=[])
    p.add_argument("--dataset")
    p.add_argument("--histories", nargs="*", default=[])
    p.add_argument("--metrics")
    p.add_argument("--scene", nargs="*", default=[])
    p.add_argument("--patches")
    p.add_argument("--models", nargs="*", default=[])


__all__ = ["register"]
