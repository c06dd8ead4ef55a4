# scenes: transfer learning for remote-sensing scene classification (Pires de Lima & Marfurt 2020).
#
# image folders (or the generated demo) --(one ingest job per dataset)--> stores/<dataset>.zarr
# store --> one classifier per dataset x backbone x depth x mode x init x optimizer x seed (gpu=1)
#       --> colour-histogram baseline per dataset
# runs --> accuracy.csv, best.csv, summary.csv / .md, figures, Grad-CAM


include: "helpers/scenes.smk"


wildcard_constraints:
    sc_dataset="|".join(SC_DATASETS),
    sc_backbone=r"[a-z0-9_]+",
    sc_depth="shallow|intermediate|deep",
    sc_mode="feature_extraction|fine_tune|random",
    sc_init=r"[A-Za-z0-9_]+",
    sc_optimizer=r"[a-z0-9_]+",
    sc_batch=r"\d+",
    seed=r"\d+",


if SC["source"] == "demo":

    rule scenes_demo_raw:
        """Generate the demo scene dataset: RGB TIFFs in UC Merced's class folders."""
        input:
            code=code("scenes", "demo"),
        output:
            images=SC_SOURCES[SC_DATASETS[0]][2],
        params:
            out_dir=SC_DEMO_DIR,
            cfg=scenes_cfg("demo"),
        log:
            LOGS / "scenes" / "demo_raw.log",
        benchmark:
            BENCH / "scenes" / "demo_raw.tsv"
        conda:
            ENV
        shell:
            "python -m eoml scenes demo --out-dir {params.out_dir:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule scenes_ingest:
    """One image-folder dataset: every image resized, labelled, hashed and assigned to a split."""
    input:
        images=scenes_images,
        code=code("scenes", "ingest"),
    output:
        store=directory(SC_PATHS["store"]),
    params:
        root=scenes_source(0),
        layout=scenes_source(1),
        cfg=scenes_cfg("ingest"),
    log:
        LOGS / "scenes" / "ingest" / "{sc_dataset}.log",
    benchmark:
        BENCH / "scenes" / "ingest" / "{sc_dataset}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml scenes ingest --name {wildcards.sc_dataset} --root {params.root:q}"
        " --layout {params.layout} --output {output.store:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule scenes_train:
    """Train one classifier (cut backbone + top model) and keep its best validation epoch."""
    input:
        store=scenes_store,
        init_model=scenes_init_model,
        code=code("scenes", "train"),
    output:
        model=scenes_run_file("model.pt"),
        history=scenes_run_file("history.csv"),
        predictions=scenes_run_file("predictions.csv"),
        run=scenes_run_file("run.json"),
    params:
        cfg=scenes_train_cfg,
        init_model=scenes_init_model_arg,
        out_dir=output_dir,
        # outside the outputs: Snakemake deletes outputs of a failed job, checkpoints must survive
        ckpt_dir=scenes_ckpt_dir,
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=240,
    threads: 1
    log:
        LOGS / "scenes" / "train" / "{sc_dataset}_{sc_backbone}_{sc_depth}_{sc_mode}-{sc_init}_{sc_optimizer}-b{sc_batch}_seed{seed}.log",
    benchmark:
        BENCH / "scenes" / "train" / "{sc_dataset}_{sc_backbone}_{sc_depth}_{sc_mode}-{sc_init}_{sc_optimizer}-b{sc_batch}_seed{seed}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml scenes train --store {input.store:q} --dataset {wildcards.sc_dataset}"
        " --backbone {wildcards.sc_backbone} --depth {wildcards.sc_depth} --mode {wildcards.sc_mode}"
        " --init {wildcards.sc_init} --optimizer {wildcards.sc_optimizer} --seed {wildcards.seed}"
        " {params.init_model} --out-dir {params.out_dir:q} --ckpt-dir {params.ckpt_dir:q} --threads {threads}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule scenes_baseline:
    """Colour-histogram classifier of one dataset: the floor that ImageNet features must beat."""
    input:
        store=scenes_store,
        code=code("scenes", "baseline"),
    output:
        files=[str(SC_PATHS["baseline"] / f) for f in SC_BASELINE_FILES],
    params:
        out_dir=output_dir,
        cfg=scenes_cfg("baseline"),
    log:
        LOGS / "scenes" / "baseline_{sc_dataset}.log",
    benchmark:
        BENCH / "scenes" / "baseline_{sc_dataset}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml scenes baseline --store {input.store:q} --out-dir {params.out_dir:q}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule scenes_evaluate:
    """Accuracy, macro F1 and kappa of every run and baseline; best configuration per dataset; summary."""
    input:
        runs=expand("{run}/run.json", run=scenes_run_dirs()),
        predictions=expand("{run}/predictions.csv", run=scenes_run_dirs()),
        baselines=expand("{run}/predictions.csv", run=scenes_baseline_dirs()),
        code=code("scenes", "evaluate"),
    output:
        accuracy=report(scenes_metrics("accuracy.csv"), caption="../report/scenes/accuracy.rst", category="scenes"),
        best=report(scenes_metrics("best.csv"), caption="../report/scenes/best.rst", category="scenes"),
        summary=scenes_metrics("summary.csv"),
        summary_md=scenes_metrics("summary.md"),
    params:
        runs=scenes_run_dirs() + scenes_baseline_dirs(),
    log:
        LOGS / "scenes" / "evaluate.log",
    conda:
        ENV
    shell:
        "python -m eoml scenes evaluate --runs {params.runs:q} --accuracy {output.accuracy:q} --best {output.best:q}"
        " --summary {output.summary:q} --summary-md {output.summary_md:q} > {log:q} 2>&1"


rule scenes_figure_curves:
    """Training and validation accuracy per epoch of every configuration."""
    input:
        histories=expand("{run}/history.csv", run=scenes_run_dirs()),
        code=code("scenes", "figure-curves"),
    output:
        **figure_outputs(scenes_figure("accuracy_curves"), caption="../report/scenes/accuracy_curves.rst",
                         category="scenes"),
    params:
        runs=scenes_run_dirs(),
    log:
        LOGS / "scenes" / "figure_curves.log",
    conda:
        ENV
    shell:
        "python -m eoml scenes figure-curves --runs {params.runs:q} --output {output.figure:q} > {log:q} 2>&1"


rule scenes_figure_grid:
    """Test-accuracy grid: datasets x backbones, each depth and mode."""
    input:
        accuracy=scenes_metrics("accuracy.csv"),
        code=code("scenes", "figure-grid"),
    output:
        **figure_outputs(scenes_figure("accuracy_grid"), caption="../report/scenes/accuracy_grid.rst",
                         category="scenes"),
    log:
        LOGS / "scenes" / "figure_grid.log",
    conda:
        ENV
    shell:
        "python -m eoml scenes figure-grid --accuracy {input.accuracy:q} --output {output.figure:q} > {log:q} 2>&1"


rule scenes_figure_gap:
    """Train - test accuracy gap of every configuration."""
    input:
        accuracy=scenes_metrics("accuracy.csv"),
        code=code("scenes", "figure-gap"),
    output:
        **figure_outputs(scenes_figure("accuracy_gap"), caption="../report/scenes/accuracy_gap.rst",
                         category="scenes"),
    log:
        LOGS / "scenes" / "figure_gap.log",
    conda:
        ENV
    shell:
        "python -m eoml scenes figure-gap --accuracy {input.accuracy:q} --output {output.figure:q} > {log:q} 2>&1"


rule scenes_figure_confusions:
    """Test confusion matrix of the best run of each dataset."""
    input:
        accuracy=scenes_metrics("accuracy.csv"),
        stores=scenes_stores(),
        code=code("scenes", "figure-confusions"),
    output:
        **figure_outputs(scenes_figure("confusions"), caption="../report/scenes/confusions.rst", category="scenes"),
    params:
        runs=scenes_run_dirs(),
    log:
        LOGS / "scenes" / "figure_confusions.log",
    conda:
        ENV
    shell:
        "python -m eoml scenes figure-confusions --runs {params.runs:q} --accuracy {input.accuracy:q}"
        " --stores {input.stores:q} --output {output.figure:q} > {log:q} 2>&1"


rule scenes_figure_gradcam:
    """Grad-CAM maps of a few test images with the best run of one dataset."""
    input:
        accuracy=scenes_metrics("accuracy.csv"),
        store=scenes_store,
        models=expand("{run}/model.pt", run=scenes_run_dirs()),
        code=code("scenes", "figure-gradcam"),
    output:
        **figure_outputs(scenes_figure("gradcam_{sc_dataset}"), caption="../report/scenes/gradcam.rst",
                         category="scenes"),
    params:
        runs=scenes_run_dirs(),
        n_images=SC["gradcam"]["n_images"],
    threads: 1
    log:
        LOGS / "scenes" / "figure_gradcam_{sc_dataset}.log",
    conda:
        ENV
    shell:
        "python -m eoml scenes figure-gradcam --runs {params.runs:q} --accuracy {input.accuracy:q}"
        " --store {input.store:q} --dataset {wildcards.sc_dataset} --n-images {params.n_images}"
        " --output {output.figure:q} --threads {threads} > {log:q} 2>&1"
