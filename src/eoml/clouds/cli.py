"""``eoml clouds <step>``: one sub-command per workflow step. Heavy imports happen per step."""

from __future__ import annotations

from pathlib import Path

from eoml.core.cli import StudyCommands, arg

COMMANDS = StudyCommands()
step = COMMANDS.step
call = COMMANDS.call

OUTPUT = arg("--output", required=True)
STORES = arg("--stores", nargs="+", required=True, help="GOES scene and/or Kaggle dataset stores")
ANALYSES = arg("--analyses", nargs="+", required=True, help="analysis folders, one per model (name = folder name)")


@step("demo", "generate the demo inputs: GOES-16 ABI L1b C01-C03 files and a Kaggle-layout image folder",
      arg("--out-dir", required=True))
def _demo(args) -> None:
    from eoml.clouds.demo import generate_demo

    generate_demo(args.out_dir, args.cfg["demo"])


@step("goes-store", "one GOES scene (C01, C02, C03 L1b files) -> true-colour store on the lat/lon domain",
      arg("--files", nargs="+", required=True), OUTPUT)
def _goes_store(args) -> None:
    from eoml.clouds.ingest import build_goes_store

    build_goes_store(args.files, args.output, args.cfg)


@step("kaggle-store", "one Kaggle-layout dataset (train_images + train.csv) -> image and label-mask store",
      arg("--name", required=True), arg("--images", required=True), arg("--labels", required=True), OUTPUT)
def _kaggle_store(args) -> None:
    from eoml.clouds.ingest import build_kaggle_store

    build_kaggle_store(args.name, args.images, args.labels, args.output, args.cfg)


@step("expert-store", "one expert-labelled set (one label per image) -> image and label-mask store",
      arg("--name", required=True), arg("--root", required=True), arg("--labels", default=None), OUTPUT)
def _expert_store(args) -> None:
    from eoml.clouds.ingest import build_expert_store

    build_expert_store(args.name, args.root, args.labels, args.output, args.cfg)


@step("triplets", "Tile2Vec triplets (anchor, neighbour, distant) of one training source", STORES, OUTPUT)
def _triplets(args) -> None:
    from eoml.clouds.triplets import make_triplets

    make_triplets(args.stores, args.output, args.cfg)


@step("train", "train one Tile2Vec model on a triplet store", arg("--triplets", required=True),
      arg("--out-dir", required=True), arg("--ckpt-dir", required=True), threads=True)
def _train(args) -> None:
    from eoml.clouds.embedding import train_tile2vec

    cfg = {**args.cfg["embedding"], "training": args.cfg["training"]}
    train_tile2vec(args.triplets, Path(args.out_dir), Path(args.ckpt_dir), cfg, int(args.cfg["seed"]))


@step("deepcluster-train", "train one DeepCluster network on the tiles of a triplet store",
      arg("--triplets", required=True), arg("--out-dir", required=True), arg("--ckpt-dir", required=True),
      threads=True)
def _deepcluster_train(args) -> None:
    from eoml.clouds.deepcluster import train_deepcluster

    train_deepcluster(args.triplets, Path(args.out_dir), Path(args.ckpt_dir), args.cfg["deepcluster"],
                      int(args.cfg["seed"]))


@step("dcae-train", "train one convolutional autoencoder (DCAE) on the tiles of a triplet store",
      arg("--triplets", required=True), arg("--out-dir", required=True), arg("--ckpt-dir", required=True),
      threads=True)
def _dcae_train(args) -> None:
    from eoml.clouds.autoencoder import train_dcae

    train_dcae(args.triplets, Path(args.out_dir), Path(args.ckpt_dir), args.cfg["autoencoder"], int(args.cfg["seed"]))


@step("features", "the comparison's floor: the untrained (ImageNet) backbone as an embedding model file",
      arg("--out-dir", required=True))
def _features(args) -> None:
    from eoml.clouds.embedding import save_features_model

    save_features_model(args.out_dir, args.cfg["embedding"], int(args.cfg["triplets"]["tile_px"]))


@step("analyse", "embed, cluster and score labelled tiles at every tile size; PC map of one scene",
      arg("--model", required=True), arg("--name", required=True), arg("--trained-on", required=True),
      arg("--labelled", nargs="*", default=[], help="Kaggle dataset stores"),
      arg("--map-stores", nargs="*", default=[], help="stores whose first scene gets the PC map"),
      arg("--out-dir", required=True), threads=True)
def _analyse(args) -> None:
    from eoml.clouds.evaluate import analyse_model

    analyse_model(args.model, args.name, args.trained_on, args.labelled, args.map_stores, args.out_dir, args.cfg)


@step("cloud-metrics", "cloud metrics of the labelled tiles, clusters of every model, silhouettes", ANALYSES,
      OUTPUT, arg("--silhouette", required=True))
def _cloud_metrics(args) -> None:
    from eoml.clouds.evaluate import cloud_metrics_table

    cloud_metrics_table({Path(d).name: Path(d) / "tiles.zarr" for d in args.analyses}, args.output,
                        args.silhouette, args.cfg)


@step("collect", "nmi.csv, silhouette.csv, embeddings.csv and unlabelled.csv of the study", ANALYSES,
      arg("--metrics-silhouette", default=None), arg("--nmi", required=True), arg("--silhouette", required=True),
      arg("--embeddings", default=None), arg("--unlabelled", default=None), config=False)
def _collect(args) -> None:
    from eoml.clouds.evaluate import collect_tables

    collect_tables(args.analyses, args.metrics_silhouette, args.nmi, args.silhouette, args.embeddings,
                   args.unlabelled)


@step("figures", "every figure of the study", ANALYSES, arg("--triplets", nargs="*", default=[]),
      arg("--histories", nargs="*", default=[]), arg("--models", nargs="*", default=[]),
      arg("--nmi", required=True), arg("--embeddings", default=None), arg("--cloud-metrics", required=True),
      arg("--out-dir", required=True))
def _figures(args) -> None:
    from eoml.clouds.report import make_figures

    make_figures(args.analyses, args.triplets, args.histories, args.nmi, args.cloud_metrics, args.out_dir,
                 reference_scale=float(args.cfg["analysis"]["reference_scale"]), models=args.models,
                 embeddings=args.embeddings)


@step("classifier-train", "train the supervised cloud classifier of one grid point on the Kaggle-layout stores",
      arg("--stores", nargs="+", required=True, help="Kaggle-layout dataset stores"),
      arg("--out-dir", required=True), arg("--ckpt-dir", required=True),
      arg("--job-json", required=True, help="the grid point {name, backbone, weights, head} as JSON"), threads=True)
def _classifier_train(args) -> None:
    from eoml.clouds.classifier import train_classifier
    from eoml.core.config import section_from_json

    train_classifier(args.stores, Path(args.out_dir), Path(args.ckpt_dir), args.cfg["classifier"],
                     section_from_json(args.job_json), int(args.cfg["seed"]))


@step("classifier-evaluate", "predictions, scores and confusions of one classifier on the Kaggle test images and "
      "the expert-labelled sets", arg("--model", required=True),
      arg("--kaggle", nargs="*", default=[], help="Kaggle-layout dataset stores (their test images)"),
      arg("--expert", nargs="*", default=[], help="expert-labelled set stores (all their images)"),
      arg("--out-dir", required=True), config=False, threads=True)
def _classifier_evaluate(args) -> None:
    from eoml.clouds.classifier import evaluate_classifier

    evaluate_classifier(args.model, args.kaggle, args.expert, args.out_dir)


@step("classifier-collect", "classifier.csv: the scores of every classifier with its grid point",
      arg("--evals", nargs="+", required=True, help="evaluation folders, one per classifier"), OUTPUT, config=False)
def _classifier_collect(args) -> None:
    from eoml.clouds.classifier import collect_classifier

    collect_classifier(args.evals, args.output)


@step("classifier-figures", "classifier confusions and scores, Grad-CAM panels and feature maps",
      arg("--models", nargs="+", required=True), arg("--evals", nargs="+", required=True),
      arg("--kaggle", nargs="*", default=[], help="Kaggle-layout dataset stores (the test images explained)"),
      arg("--out-dir", required=True))
def _classifier_figures(args) -> None:
    from eoml.clouds.classifier_report import classifier_figures

    c = args.cfg["classifier"]
    invert = c["gradcam_invert_dark"]
    classifier_figures(args.models, args.evals, args.kaggle, args.out_dir,
                       invert_dark=None if invert is None else float(invert), n_feature_maps=int(c["n_feature_maps"]),
                       layer=c["gradcam_layer"])
