# clouds: trade-wind cloud organisation (Sugar, Gravel, Fish, Flower) from GOES-16 ABI and MODIS.
#
# GOES L1b files (C01-C03)  --(one job per scene)-->    stores/goes/<scene>.zarr   (true colour, lat/lon)
# Kaggle-layout folders     --(one job per dataset)-->  stores/kaggle/<dataset>.zarr (images, label masks)
# stores --> triplets/<source>.zarr --> models/<source> (Tile2Vec, gpu=1) --> analysis/<model>
#        --> nmi.csv, silhouette.csv, cloud_metrics.csv, embeddings.csv, unlabelled.csv, figures
# MODIS triplets --> models/deepcluster, models/dcae (gpu=1); models/imagenet (untrained features)
# Kaggle stores --> classifier/models/<job> (gpu=1) --> classifier/evaluation/<job> (+ expert sets)
#        --> classifier.csv, confusions, Grad-CAM, feature maps


include: "helpers/clouds.smk"


wildcard_constraints:
    cl_scene=r"[A-Za-z0-9_]+",
    cl_dataset=r"[A-Za-z0-9_]+",
    cl_source="goes|modis",
    cl_model="goes|modis|imagenet|deepcluster|dcae",
    cl_job=r"[A-Za-z0-9_]+",
    cl_expert=r"[A-Za-z0-9_]+",


if CL["source"] == "demo":

    rule clouds_demo_raw:
        """Generate the demo inputs: GOES-16 ABI L1b files and a Kaggle-layout image folder."""
        input:
            code=code("clouds", "demo"),
        output:
            goes=[f for files in CL_SCENES.values() for f in files],
            images=[f for v in CL_KAGGLE.values() for f in v[2]],
            labels=[v[1] for v in CL_KAGGLE.values()],
            expert=[f for v in CL_EXPERT.values() for f in v[2]],
        params:
            out_dir=CL_DEMO_DIR,
            cfg=clouds_cfg("demo"),
        log:
            LOGS / "clouds" / "demo_raw.log",
        benchmark:
            BENCH / "clouds" / "demo_raw.tsv"
        conda:
            ENV
        shell:
            "python -m eoml clouds demo --out-dir {params.out_dir:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_goes_store:
    """One GOES scene: C01, C02 and C03 reflectances, synthetic green, solar-zenith correction, on the lat/lon grid."""
    input:
        files=lambda wildcards: CL_SCENES[wildcards.cl_scene],
        code=code("clouds", "goes-store"),
    output:
        store=directory(CL_PATHS["goes_store"]),
    params:
        cfg=clouds_cfg("goes-store"),
    log:
        LOGS / "clouds" / "goes_store" / "{cl_scene}.log",
    benchmark:
        BENCH / "clouds" / "goes_store" / "{cl_scene}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds goes-store --files {input.files:q} --output {output.store:q}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_kaggle_store:
    """One Kaggle-layout dataset: the JPEGs and the run-length label masks of train.csv."""
    input:
        images=lambda wildcards: CL_KAGGLE[wildcards.cl_dataset][2],
        labels=lambda wildcards: CL_KAGGLE[wildcards.cl_dataset][1],
        code=code("clouds", "kaggle-store"),
    output:
        store=directory(CL_PATHS["kaggle_store"]),
    params:
        images=lambda wildcards: CL_KAGGLE[wildcards.cl_dataset][0],
        cfg=clouds_cfg("kaggle-store"),
    log:
        LOGS / "clouds" / "kaggle_store" / "{cl_dataset}.log",
    benchmark:
        BENCH / "clouds" / "kaggle_store" / "{cl_dataset}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds kaggle-store --name {wildcards.cl_dataset} --images {params.images:q}"
        " --labels {input.labels:q} --output {output.store:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_expert_store:
    """One expert-labelled set: one label per image (class folders or a CSV)."""
    input:
        images=lambda wildcards: CL_EXPERT[wildcards.cl_expert][2],
        labels=lambda wildcards: CL_EXPERT[wildcards.cl_expert][1] or [],
        code=code("clouds", "expert-store"),
    output:
        store=directory(CL_PATHS["expert_store"]),
    params:
        root=lambda wildcards: CL_EXPERT[wildcards.cl_expert][0],
        labels=lambda wildcards, input: f"--labels {input.labels}" if input.labels else "",
        cfg=clouds_cfg("expert-store"),
    log:
        LOGS / "clouds" / "expert_store" / "{cl_expert}.log",
    benchmark:
        BENCH / "clouds" / "expert_store" / "{cl_expert}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds expert-store --name {wildcards.cl_expert} --root {params.root:q} {params.labels}"
        " --output {output.store:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_triplets:
    """Tile2Vec triplets of one source: anchor, neighbour half a tile away, distant tile from another scene."""
    input:
        stores=lambda wildcards: clouds_source_stores(wildcards.cl_source),
        code=code("clouds", "triplets"),
    output:
        store=directory(CL_PATHS["triplets"]),
    params:
        cfg=clouds_cfg("triplets"),
    log:
        LOGS / "clouds" / "triplets_{cl_source}.log",
    benchmark:
        BENCH / "clouds" / "triplets_{cl_source}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds triplets --stores {input.stores:q} --output {output.store:q}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_train:
    """Train one Tile2Vec model (backbone + head, triplet margin loss); keep its best validation epoch."""
    input:
        triplets=CL_PATHS["triplets"],
        code=code("clouds", "train"),
    output:
        model=clouds_model_file("model.pt"),
        history=clouds_model_file("history.csv"),
    params:
        cfg=clouds_cfg("train"),
        out_dir=output_dir,
        # outside the outputs: Snakemake deletes outputs of a failed job, checkpoints must survive
        ckpt_dir=lambda wildcards: expand(CL_PATHS["checkpoints"], **wildcards)[0],
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=480,
    threads: 1
    log:
        LOGS / "clouds" / "train_{cl_source}.log",
    benchmark:
        BENCH / "clouds" / "train_{cl_source}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds train --triplets {input.triplets:q} --out-dir {params.out_dir:q}"
        " --ckpt-dir {params.ckpt_dir:q} --threads {threads} --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_features:
    """The comparison's floor: the backbone with its ImageNet weights, untrained, as an embedding (pooled features)."""
    input:
        code=code("clouds", "features"),
    output:
        model=clouds_embedder_file("imagenet"),
    params:
        cfg=clouds_cfg("features"),
        out_dir=output_dir,
    log:
        LOGS / "clouds" / "features.log",
    conda:
        ENV
    shell:
        "python -m eoml clouds features --out-dir {params.out_dir:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_deepcluster_train:
    """DeepCluster: k-means of the features as pseudo-labels, retrain, repeat (one clustering per epoch); the last epoch is kept."""
    input:
        triplets=lambda wildcards: expand(CL_PATHS["triplets"], cl_source=CL_UNSUPERVISED_SOURCE),
        code=code("clouds", "deepcluster-train"),
    output:
        model=clouds_embedder_file("deepcluster"),
        history=str(CL_PATHS["embedder"] / "history.csv").format(cl_model="deepcluster"),
    params:
        cfg=clouds_cfg("deepcluster-train"),
        out_dir=output_dir,
        ckpt_dir=str(CL_PATHS["embedder_checkpoints"]).format(cl_model="deepcluster"),
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=480,
    threads: 1
    log:
        LOGS / "clouds" / "train_deepcluster.log",
    benchmark:
        BENCH / "clouds" / "train_deepcluster.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds deepcluster-train --triplets {input.triplets:q} --out-dir {params.out_dir:q}"
        " --ckpt-dir {params.ckpt_dir:q} --threads {threads} --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_dcae_train:
    """The deep convolutional autoencoder (3 -> 128 -> 64 -> 32 -> 16 -> 8 and back); its latent vectors embed the tiles."""
    input:
        triplets=lambda wildcards: expand(CL_PATHS["triplets"], cl_source=CL_UNSUPERVISED_SOURCE),
        code=code("clouds", "dcae-train"),
    output:
        model=clouds_embedder_file("dcae"),
        history=str(CL_PATHS["embedder"] / "history.csv").format(cl_model="dcae"),
    params:
        cfg=clouds_cfg("dcae-train"),
        out_dir=output_dir,
        ckpt_dir=str(CL_PATHS["embedder_checkpoints"]).format(cl_model="dcae"),
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=480,
    threads: 1
    log:
        LOGS / "clouds" / "train_dcae.log",
    benchmark:
        BENCH / "clouds" / "train_dcae.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds dcae-train --triplets {input.triplets:q} --out-dir {params.out_dir:q}"
        " --ckpt-dir {params.ckpt_dir:q} --threads {threads} --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_analyse:
    """One embedding on the labelled tiles of every size: Ward / k-means clusters, NMI, silhouettes, PCA; labelled vs unlabelled squares; PC map."""
    input:
        model=lambda wildcards: clouds_embedder_file(wildcards.cl_model),
        labelled=clouds_labelled_stores(),
        maps=lambda wildcards: clouds_source_stores(CL_MODELS[wildcards.cl_model]
                                                    if CL_MODELS[wildcards.cl_model] in CL_SOURCES
                                                    else CL_UNSUPERVISED_SOURCE)[:1],
        code=code("clouds", "analyse"),
    output:
        tables=[str(CL_PATHS["analysis"] / f) for f in CL_ANALYSIS_FILES],
        stores=[directory(str(CL_PATHS["analysis"] / f)) for f in CL_ANALYSIS_STORES],
    params:
        cfg=clouds_cfg("analyse"),
        out_dir=output_dir,
        trained_on=lambda wildcards: CL_MODELS[wildcards.cl_model],
    threads: 1
    log:
        LOGS / "clouds" / "analyse_{cl_model}.log",
    benchmark:
        BENCH / "clouds" / "analyse_{cl_model}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds analyse --model {input.model:q} --name {wildcards.cl_model}"
        " --trained-on {params.trained_on} --labelled {input.labelled:q} --map-stores {input.maps:q}"
        " --out-dir {params.out_dir:q} --threads {threads} --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_cloud_metrics:
    """Cloud metrics of the labelled tiles, with every model's clusters; silhouettes in the metrics' PCA plane."""
    input:
        tiles=expand("{a}/tiles.zarr", a=clouds_analysis_dirs()),
        code=code("clouds", "cloud-metrics"),
    output:
        table=report(clouds_metrics("cloud_metrics.csv"), caption="../report/clouds/cloud_metrics_table.rst",
                     category="clouds"),
        silhouette=str(CL_OUT / "metrics" / "parts" / "silhouette_cloud_metrics.csv"),
    params:
        analyses=clouds_analysis_dirs(),
        cfg=clouds_cfg("cloud-metrics"),
    log:
        LOGS / "clouds" / "cloud_metrics.log",
    benchmark:
        BENCH / "clouds" / "cloud_metrics.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds cloud-metrics --analyses {params.analyses:q} --output {output.table:q}"
        " --silhouette {output.silhouette:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_collect:
    """nmi.csv, silhouette.csv, embeddings.csv (every embedding by NMI and silhouette per tile size) and unlabelled.csv."""
    input:
        tables=expand("{a}/{f}", a=clouds_analysis_dirs(), f=CL_ANALYSIS_FILES),
        metrics_silhouette=rules.clouds_cloud_metrics.output.silhouette,
        code=code("clouds", "collect"),
    output:
        nmi=report(clouds_metrics("nmi.csv"), caption="../report/clouds/nmi.rst", category="clouds"),
        silhouette=report(clouds_metrics("silhouette.csv"), caption="../report/clouds/silhouette.rst",
                          category="clouds"),
        embeddings=report(clouds_metrics("embeddings.csv"), caption="../report/clouds/embeddings_table.rst",
                          category="clouds"),
        unlabelled=report(clouds_metrics("unlabelled.csv"), caption="../report/clouds/unlabelled_table.rst",
                          category="clouds"),
    params:
        analyses=clouds_analysis_dirs(),
    log:
        LOGS / "clouds" / "collect.log",
    conda:
        ENV
    shell:
        "python -m eoml clouds collect --analyses {params.analyses:q} --metrics-silhouette {input.metrics_silhouette:q}"
        " --nmi {output.nmi:q} --silhouette {output.silhouette:q} --embeddings {output.embeddings:q}"
        " --unlabelled {output.unlabelled:q} > {log:q} 2>&1"


rule clouds_figures:
    """Every figure of the study: triplets, training distances, dendrograms, PCA, PC maps, confusions, NMI vs scale, metrics."""
    input:
        analyses=expand("{a}/{f}", a=clouds_analysis_dirs(), f=CL_ANALYSIS_STORES),
        triplets=expand(CL_PATHS["triplets"], cl_source=CL_SOURCES),
        histories=expand(str(CL_PATHS["model"] / "history.csv"), cl_source=CL_SOURCES),
        models=[clouds_embedder_file(m) for m in CL_MODELS],
        embeddings=clouds_metrics("embeddings.csv"),
        nmi=clouds_metrics("nmi.csv"),
        cloud_metrics=clouds_metrics("cloud_metrics.csv"),
        code=code("clouds", "figures"),
    output:
        **clouds_figure_outputs(),
    params:
        analyses=clouds_analysis_dirs(),
        out_dir=output_dir,
        cfg=clouds_cfg("figures"),
    log:
        LOGS / "clouds" / "figures.log",
    conda:
        ENV
    shell:
        "python -m eoml clouds figures --analyses {params.analyses:q} --triplets {input.triplets:q}"
        " --histories {input.histories:q} --models {input.models:q} --nmi {input.nmi:q}"
        " --embeddings {input.embeddings:q} --cloud-metrics {input.cloud_metrics:q}"
        " --out-dir {params.out_dir:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_classifier_train:
    """One classifier of the grid: backbone + fully connected head on the largest square of each labelled rectangle, class-balanced."""
    input:
        stores=clouds_kaggle_stores(),
        code=code("clouds", "classifier-train"),
    output:
        model=clouds_classifier_file("model.pt"),
        history=clouds_classifier_file("history.csv"),
    params:
        cfg=clouds_cfg("classifier-train"),
        job=lambda wildcards: canonical_json(CL_JOBS[wildcards.cl_job]),
        out_dir=output_dir,
        ckpt_dir=lambda wildcards: expand(CL_PATHS["classifier_checkpoints"], **wildcards)[0],
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=480,
    threads: 1
    log:
        LOGS / "clouds" / "classifier_train_{cl_job}.log",
    benchmark:
        BENCH / "clouds" / "classifier_train_{cl_job}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds classifier-train --stores {input.stores:q} --out-dir {params.out_dir:q}"
        " --ckpt-dir {params.ckpt_dir:q} --job-json {params.job:q} --threads {threads}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule clouds_classifier_evaluate:
    """One classifier on the held-out Kaggle-layout images and on every expert set: predictions, per-class scores, confusion."""
    input:
        model=clouds_classifier_file("model.pt"),
        kaggle=clouds_kaggle_stores(),
        expert=clouds_expert_stores(),
        code=code("clouds", "classifier-evaluate"),
    output:
        predictions=str(CL_PATHS["classifier_eval"] / "predictions.csv"),
        scores=str(CL_PATHS["classifier_eval"] / "scores.csv"),
        confusion=str(CL_PATHS["classifier_eval"] / "confusion.csv"),
        job=str(CL_PATHS["classifier_eval"] / "job.json"),
    params:
        out_dir=output_dir,
        expert=lambda wildcards, input: f"--expert {' '.join(input.expert)}" if input.expert else "",
    log:
        LOGS / "clouds" / "classifier_evaluate_{cl_job}.log",
    benchmark:
        BENCH / "clouds" / "classifier_evaluate_{cl_job}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds classifier-evaluate --model {input.model:q} --kaggle {input.kaggle:q} {params.expert}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule clouds_classifier_collect:
    """classifier.csv: per-class precision, recall, F1 and support of every classifier on every test set."""
    input:
        scores=expand(str(CL_PATHS["classifier_eval"] / "scores.csv"), cl_job=list(CL_JOBS)),
        jobs=expand(str(CL_PATHS["classifier_eval"] / "job.json"), cl_job=list(CL_JOBS)),
        code=code("clouds", "classifier-collect"),
    output:
        table=report(clouds_metrics("classifier.csv"), caption="../report/clouds/classifier_table.rst",
                     category="clouds"),
    params:
        evals=clouds_classifier_evals(),
    log:
        LOGS / "clouds" / "classifier_collect.log",
    conda:
        ENV
    shell:
        "python -m eoml clouds classifier-collect --evals {params.evals:q} --output {output.table:q} > {log:q} 2>&1"


rule clouds_classifier_figures:
    """Classifier confusions and scores; Grad-CAM maps and last-layer feature maps of one test image per class."""
    input:
        models=[clouds_classifier_file("model.pt", job) for job in CL_JOBS],
        scores=expand(str(CL_PATHS["classifier_eval"] / "scores.csv"), cl_job=list(CL_JOBS)),
        confusions=expand(str(CL_PATHS["classifier_eval"] / "confusion.csv"), cl_job=list(CL_JOBS)),
        kaggle=clouds_kaggle_stores(),
        code=code("clouds", "classifier-figures"),
    output:
        **clouds_classifier_figure_outputs(),
    params:
        evals=clouds_classifier_evals(),
        out_dir=output_dir,
        cfg=clouds_cfg("classifier-figures"),
    log:
        LOGS / "clouds" / "classifier_figures.log",
    benchmark:
        BENCH / "clouds" / "classifier_figures.tsv"
    conda:
        ENV
    shell:
        "python -m eoml clouds classifier-figures --models {input.models:q} --evals {params.evals:q}"
        " --kaggle {input.kaggle:q} --out-dir {params.out_dir:q} --config-json {params.cfg:q} > {log:q} 2>&1"
