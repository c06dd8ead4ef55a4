# seaice: Sentinel-1 SAR ice/water segmentation, ImageNet-pretrained vs random init.
#
# SAFE product + ice chart --(one ingest job per scene)--> scenes/<id>.zarr (80 m: HH, HV dB, incidence, label)
# training scenes --> one segmenter per init x seed (gpu=1) --> model.pt --> test-scene predictions
# predictions --> segmentation.csv, summary.csv, confusion.csv, figures


wildcard_constraints:
    si_scene=r"[A-Za-z0-9_]+",
    si_init="imagenet|random",


if SI["source"] == "demo":

    rule seaice_demo_raw:
        """Generate the demo's Sentinel-1 EW GRDM SAFE products (HH/HV) and SIGRID-3 GeoJSON ice charts."""
        input:
            code=code("seaice.demo", "seaice.ingest", "seaice.readers"),
        output:
            safes=[directory(p) for p in seaice_demo_safes()],
            charts=seaice_demo_charts(),
        params:
            out_dir=seaice_demo_dir,
            cfg=seaice_demo_cfg(),
        log:
            LOGS / "seaice" / "demo_raw.log",
        benchmark:
            BENCH / "seaice" / "demo_raw.tsv"
        conda:
            ENV
        shell:
            "python -m eoml seaice demo --out-dir {params.out_dir:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule seaice_ingest:
    """One SAFE product and its ice chart: noise-corrected sigma0 averaged to 80 m in power, chart labels."""
    input:
        safe=seaice_safe,
        chart=seaice_chart,
        code=code("seaice.readers", "seaice.charts", "seaice.ingest", "core.store"),
    output:
        store=directory(SI_OUT / "scenes" / "{si_scene}.zarr"),
    params:
        cfg=seaice_cfg("ingest"),
    log:
        LOGS / "seaice" / "ingest" / "{si_scene}.log",
    benchmark:
        BENCH / "seaice" / "ingest" / "{si_scene}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml seaice ingest --safe {input.safe:q} --chart {input.chart:q} --scene {wildcards.si_scene}"
        " --output {output.store:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule seaice_train:
    """Train one segmenter (encoder + ASPP) from ImageNet or random weights with one seed; keep the best epoch."""
    input:
        stores=seaice_training_stores(),
        code=code("core.training", "seaice.models", "seaice.train"),
    output:
        model=SI_OUT / "models" / "{si_init}" / "seed{seed}" / "model.pt",
        history=SI_OUT / "models" / "{si_init}" / "seed{seed}" / "history.csv",
    params:
        cfg=seaice_cfg("train"),
        stores=seaice_training_store_args(),
        # outside the outputs: Snakemake deletes outputs of a failed job, checkpoints must survive
        ckpt_dir=seaice_ckpt_dir,
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=480,
    threads: 1
    log:
        LOGS / "seaice" / "train_{si_init}_seed{seed}.log",
    benchmark:
        BENCH / "seaice" / "train_{si_init}_seed{seed}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml seaice train --stores {params.stores} --init {wildcards.si_init} --seed {wildcards.seed}"
        " --out-dir $(dirname {output.model:q}) --ckpt-dir {params.ckpt_dir:q} --threads {threads}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule seaice_predict:
    """Predict every test scene whole with one trained segmenter."""
    input:
        model=SI_OUT / "models" / "{si_init}" / "seed{seed}" / "model.pt",
        stores=seaice_test_stores(),
        code=code("seaice.models", "seaice.train"),
    output:
        predictions=SI_OUT / "predictions" / "{si_init}_seed{seed}.nc",
    params:
        cfg=seaice_cfg("predict"),
        stores=seaice_test_store_args(),
    threads: 1
    log:
        LOGS / "seaice" / "predict_{si_init}_seed{seed}.log",
    conda:
        ENV
    shell:
        "python -m eoml seaice predict --model {input.model:q} --stores {params.stores} --output {output.predictions:q}"
        " --threads {threads} --config-json {params.cfg:q} > {log:q} 2>&1"


rule seaice_evaluate:
    """Weighted F1, IoU (micro, macro, weighted) and confusion matrices per init, seed and test scene."""
    input:
        predictions=seaice_predictions(),
        stores=seaice_test_stores(),
        code=code("seaice.evaluate", "seaice.metrics"),
    output:
        metrics=report(
            SI_OUT / "metrics" / "segmentation.csv",
            caption="../report/seaice/segmentation_table.rst",
            category="seaice",
            subcategory="tables",
            labels={"table": "segmentation scores"},
        ),
        summary=report(
            SI_OUT / "metrics" / "summary.csv",
            caption="../report/seaice/summary_table.rst",
            category="seaice",
            subcategory="tables",
            labels={"table": "mean and std over seeds"},
        ),
        confusion=SI_OUT / "metrics" / "confusion.csv",
    params:
        stores=seaice_test_store_args(),
    log:
        LOGS / "seaice" / "evaluate.log",
    conda:
        ENV
    shell:
        "python -m eoml seaice evaluate --predictions {input.predictions:q} --stores {params.stores}"
        " --metrics {output.metrics:q} --summary {output.summary:q} --confusion {output.confusion:q} > {log:q} 2>&1"


rule seaice_figure_scene:
    """One test scene: HH, HV, chart labels, and every initialisation's prediction and error map."""
    input:
        store=SI_OUT / "scenes" / "{si_scene}.zarr",
        predictions=seaice_predictions(),
        code=code("seaice.figures", "core.plotting"),
    output:
        figure=report(
            SI_OUT / "figures" / "scene_{si_scene}.png",
            caption="../report/seaice/scene.rst",
            category="seaice",
            subcategory="maps",
            labels={"figure": "scene", "scene": "{si_scene}"},
        ),
    log:
        LOGS / "seaice" / "figure_scene_{si_scene}.log",
    conda:
        ENV
    shell:
        "python -m eoml seaice figure scene --store {input.store:q} --predictions {input.predictions:q}"
        " --output {output.figure:q} > {log:q} 2>&1"


rule seaice_figure_confusions:
    """Row-normalised confusion matrices per initialisation and test scene (mean over seeds)."""
    input:
        confusion=SI_OUT / "metrics" / "confusion.csv",
        code=code("seaice.figures", "core.plotting"),
    output:
        figure=report(
            SI_OUT / "figures" / "confusions.png",
            caption="../report/seaice/confusions.rst",
            category="seaice",
            subcategory="skill",
            labels={"figure": "confusion matrices"},
        ),
    log:
        LOGS / "seaice" / "figure_confusions.log",
    conda:
        ENV
    shell:
        "python -m eoml seaice figure confusions --confusion {input.confusion:q} --output {output.figure:q} > {log:q} 2>&1"


rule seaice_figure_scores:
    """Weighted F1 and IoU per initialisation and test scene, mean and spread over seeds."""
    input:
        metrics=SI_OUT / "metrics" / "segmentation.csv",
        code=code("seaice.figures", "core.plotting"),
    output:
        figure=report(
            SI_OUT / "figures" / "scores.png",
            caption="../report/seaice/scores.rst",
            category="seaice",
            subcategory="skill",
            labels={"figure": "scores"},
        ),
    log:
        LOGS / "seaice" / "figure_scores.log",
    conda:
        ENV
    shell:
        "python -m eoml seaice figure scores --metrics {input.metrics:q} --output {output.figure:q} > {log:q} 2>&1"
