# seaice: Sentinel-1 SAR ice/water segmentation, ImageNet-pretrained vs random init.
#
# SAFE product + ice chart --(one ingest job per scene)--> scenes/<id>.zarr (80 m: HH, HV dB, incidence, label)
# training scenes --> one segmenter per init x seed (gpu=1) --> model.pt --> test-scene predictions
# predictions --> segmentation.csv, summary.csv, confusion.csv, figures


include: "helpers/seaice.smk"


wildcard_constraints:
    si_scene=SAFE_ID,
    si_init="|".join(SI["inits"]) or "(?!)",
    seed=r"\d+",


if SI["source"] == "demo":

    rule seaice_demo_raw:
        """Generate the demo's Sentinel-1 EW GRDM SAFE products (HH/HV) and SIGRID-3 GeoJSON ice charts."""
        input:
            code=code("seaice", "demo"),
        output:
            safes=[directory(safe) for safe, _ in SI_SCENES.values()],
            charts=[chart for _, chart in SI_SCENES.values()],
        params:
            out_dir=SI_DEMO_DIR,
            cfg=seaice_cfg("demo"),
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
        safe=seaice_scene_file(0),
        chart=seaice_scene_file(1),
        code=code("seaice", "ingest"),
    output:
        store=directory(SI_PATHS["scene"]),
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
        stores=seaice_stores(SI["split"]["half"] + SI["split"]["train"]),
        code=code("seaice", "train"),
    output:
        model=seaice_model_file("model.pt"),
        history=seaice_model_file("history.csv"),
    params:
        cfg=seaice_cfg("train"),
        out_dir=output_dir,
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
        "python -m eoml seaice train --stores {input.stores:q} --init {wildcards.si_init} --seed {wildcards.seed}"
        " --out-dir {params.out_dir:q} --ckpt-dir {params.ckpt_dir:q} --threads {threads}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule seaice_predict:
    """Predict every test scene whole with one trained segmenter."""
    input:
        model=seaice_model_file("model.pt"),
        stores=seaice_stores(SI["split"]["test"]),
        code=code("seaice", "predict"),
    output:
        predictions=directory(SI_PATHS["predictions"]),
    params:
        cfg=seaice_cfg("predict"),
    threads: 1
    log:
        LOGS / "seaice" / "predict_{si_init}_seed{seed}.log",
    benchmark:
        BENCH / "seaice" / "predict_{si_init}_seed{seed}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml seaice predict --model {input.model:q} --stores {input.stores:q} --output {output.predictions:q}"
        " --threads {threads} --config-json {params.cfg:q} > {log:q} 2>&1"


rule seaice_evaluate:
    """Weighted F1, IoU (micro, macro, weighted) and confusion matrices per init, seed and test scene."""
    input:
        predictions=seaice_predictions(),
        stores=seaice_stores(SI["split"]["test"]),
        code=code("seaice", "evaluate"),
    output:
        metrics=report(
            seaice_metrics("segmentation"),
            caption="../report/seaice/segmentation_table.rst",
            category="seaice",
            subcategory="tables",
            labels={"table": "segmentation scores"},
        ),
        summary=report(
            seaice_metrics("summary"),
            caption="../report/seaice/summary_table.rst",
            category="seaice",
            subcategory="tables",
            labels={"table": "mean and std over seeds"},
        ),
        confusion=seaice_metrics("confusion"),
    log:
        LOGS / "seaice" / "evaluate.log",
    conda:
        ENV
    shell:
        "python -m eoml seaice evaluate --predictions {input.predictions:q} --stores {input.stores:q}"
        " --metrics {output.metrics:q} --summary {output.summary:q} --confusion {output.confusion:q} > {log:q} 2>&1"


rule seaice_figure_scene:
    """One test scene: HH, HV, chart labels, and every initialisation's prediction and error map."""
    input:
        store=SI_PATHS["scene"],
        predictions=seaice_predictions(),
        code=code("seaice", "figure-scene"),
    output:
        **figure_outputs(
            seaice_figure("scene_{si_scene}"),
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
        "python -m eoml seaice figure-scene --store {input.store:q} --predictions {input.predictions:q}"
        " --output {output.figure:q} > {log:q} 2>&1"


rule seaice_figure_confusions:
    """Row-normalised confusion matrices per initialisation and test scene (mean over seeds)."""
    input:
        confusion=seaice_metrics("confusion"),
        code=code("seaice", "figure-confusions"),
    output:
        **figure_outputs(
            seaice_figure("confusions"),
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
        "python -m eoml seaice figure-confusions --confusion {input.confusion:q} --output {output.figure:q} > {log:q} 2>&1"


rule seaice_figure_scores:
    """Weighted F1 and IoU per initialisation and test scene, mean and spread over seeds."""
    input:
        metrics=seaice_metrics("segmentation"),
        code=code("seaice", "figure-scores"),
    output:
        **figure_outputs(
            seaice_figure("scores"),
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
        "python -m eoml seaice figure-scores --metrics {input.metrics:q} --output {output.figure:q} > {log:q} 2>&1"
