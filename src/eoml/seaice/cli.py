"""``eoml seaice ...`` sub-commands: one per workflow step. Heavy imports happen per command."""

from __future__ import annotations

from pathlib import Path

from eoml.core.config import section_from_json


def _cfg(args) -> dict:
    return section_from_json(args.config_json)


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, n))


def _stores(pairs: list[str]) -> dict[str, str]:
    """``ID=PATH`` arguments as a dict."""
    out = {}
    for item in pairs:
        scene, _, path = item.partition("=")
        out[scene] = path
    return out


def _demo(args) -> None:
    from eoml.seaice.demo import generate_demo

    generate_demo(args.out_dir, _cfg(args))


def _ingest(args) -> None:
    from eoml.seaice.ingest import ingest_scene

    ingest_scene(args.safe, args.chart, args.output, args.scene, _cfg(args))


def _train(args) -> None:
    _set_threads(args.threads)
    from eoml.seaice.train import train_segmenter

    cfg = _cfg(args)
    train_segmenter(_stores(args.stores), cfg.pop("encoder"), args.init, args.seed, Path(args.out_dir),
                    Path(args.ckpt_dir), cfg)


def _predict(args) -> None:
    _set_threads(args.threads)
    from eoml.seaice.train import predict_scenes

    predict_scenes(args.model, _stores(args.stores), args.output, tile=_cfg(args).get("predict_tile"))


def _evaluate(args) -> None:
    from eoml.seaice.evaluate import evaluate

    evaluate(args.predictions, _stores(args.stores), args.metrics, args.summary, args.confusion)


def _figure(args) -> None:
    from eoml.seaice import figures

    if args.kind == "scene":
        figures.plot_scene_predictions(args.store, args.predictions, args.output)
    elif args.kind == "confusions":
        figures.plot_confusions(args.confusion, args.output)
    elif args.kind == "scores":
        figures.plot_scores(args.metrics, args.output)


def register(subparsers) -> None:
    parser = subparsers.add_parser("seaice", help="Sentinel-1 SAR ice/water segmentation (ImageNet vs random init)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, func, help_text, config=True):
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(func=func)
        if config:
            p.add_argument("--config-json", required=True, help="the seaice config keys this step reads, as JSON")
        return p

    p = add("demo", _demo, "generate demo Sentinel-1 EW GRDM SAFE products and ice charts")
    p.add_argument("--out-dir", required=True)

    p = add("ingest", _ingest, "one SAFE product + ice chart -> scene store at 80 m")
    p.add_argument("--safe", required=True)
    p.add_argument("--chart", required=True)
    p.add_argument("--scene", required=True)
    p.add_argument("--output", required=True)

    p = add("train", _train, "train one segmenter (init x seed)")
    p.add_argument("--stores", nargs="+", required=True, metavar="ID=PATH")
    p.add_argument("--init", required=True, choices=["imagenet", "random"])
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--ckpt-dir", required=True)
    p.add_argument("--threads", type=int, default=1)

    p = add("predict", _predict, "predict the test scenes with a trained segmenter")
    p.add_argument("--model", required=True)
    p.add_argument("--stores", nargs="+", required=True, metavar="ID=PATH")
    p.add_argument("--output", required=True)
    p.add_argument("--threads", type=int, default=1)

    p = add("evaluate", _evaluate, "segmentation.csv, summary.csv, confusion.csv", config=False)
    p.add_argument("--predictions", nargs="+", required=True)
    p.add_argument("--stores", nargs="+", required=True, metavar="ID=PATH")
    p.add_argument("--metrics", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--confusion", required=True)

    p = add("figure", _figure, "draw one figure", config=False)
    p.add_argument("kind", choices=["scene", "confusions", "scores"])
    p.add_argument("--output", required=True)
    p.add_argument("--store")
    p.add_argument("--predictions", nargs="*", default=[])
    p.add_argument("--confusion")
    p.add_argument("--metrics")


__all__ = ["register"]
