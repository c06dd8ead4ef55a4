# lst: super-resolving MODIS land-surface temperature 1 km -> 250 m (MRUNet vs classical sharpeners).
#
# MOD11A1 + MOD09GQ granule pair --(one ingest job per tile and date)--> scenes/*.zarr --> patches.zarr
# patches.zarr --> U-Nets (one gpu=1 job each) --> model.pt
# patches.zarr + validation GeoTIFFs --> eval/inputs.zarr --> baselines (CPU jobs) / model predictions
# predictions --> sharpening.csv, ranking.csv, figures


include: "helpers/lst.smk"


wildcard_constraints:
    lst_scene=r"h\d{2}v\d{2}_\d{4}-\d{2}-\d{2}",
    lst_method="|".join([*LST["baselines"], *LST_MODELS]) or "(?!)",
    lst_model="|".join(LST_MODELS) or "(?!)",
    lst_dataset=SAFE_ID,


if LST["source"] == "demo":

    rule lst_demo_raw:
        """Generate the demo's MOD11A1 / MOD09GQ HDF4-EOS granules and validation GeoTIFF scenes."""
        input:
            code=code("lst", "demo"),
        output:
            # the generator's own files only: a user's validation scenes are inputs, never outputs
            sorted([path for pair in LST_PAIRS.values() for path in pair] + _scene_files(LST_DEMO_PLAN["scenes"])),
        params:
            out_dir=LST_DEMO_DIR,
            cfg=lst_cfg("demo"),
        log:
            LOGS / "lst" / "demo_raw.log",
        benchmark:
            BENCH / "lst" / "demo_raw.tsv"
        conda:
            ENV
        shell:
            "python -m eoml lst demo --out-dir {params.out_dir:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule lst_ingest:
    """One MOD11A1 + MOD09GQ pair: QC-masked 1 km LST and 250 m NDVI on one sinusoidal grid."""
    input:
        mod11a1=lst_pair_file("mod11a1"),
        mod09gq=lst_pair_file("mod09gq"),
        code=code("lst", "ingest"),
    output:
        store=directory(LST_PATHS["scene"]),
    params:
        cfg=lst_cfg("ingest"),
    log:
        LOGS / "lst" / "ingest" / "{lst_scene}.log",
    benchmark:
        BENCH / "lst" / "ingest" / "{lst_scene}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml lst ingest --mod11a1 {input.mod11a1:q} --mod09gq {input.mod09gq:q}"
        " --output {output.store:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule lst_patches:
    """Cut the scene stores into fully valid 64 x 64 km patches; split train / validation by date."""
    input:
        scenes=lst_scene_stores(),
        code=code("lst", "patches"),
    output:
        store=directory(LST_PATHS["patches"]),
    params:
        cfg=lst_cfg("patches"),
    log:
        LOGS / "lst" / "patches.log",
    benchmark:
        BENCH / "lst" / "patches.tsv"
    conda:
        ENV
    shell:
        "python -m eoml lst patches --scenes {input.scenes:q} --output {output.store:q}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule lst_eval_inputs:
    """Evaluation inputs: held-out patches under Wald's protocol and every validation scene."""
    input:
        patches=LST_PATHS["patches"],
        scenes=_scene_files(LST_SCENES),
        code=code("lst", "eval-inputs"),
    output:
        store=directory(LST_PATHS["eval_inputs"]),
    params:
        cfg=lst_cfg("eval-inputs", scenes=LST_SCENES),
    log:
        LOGS / "lst" / "eval_inputs.log",
    benchmark:
        BENCH / "lst" / "eval_inputs.tsv"
    conda:
        ENV
    shell:
        "python -m eoml lst eval-inputs --patches {input.patches:q} --output {output.store:q}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule lst_baseline:
    """Run one classical sharpener (bilinear, bicubic, TsHARP, ATPRK, AATPRK) on every evaluation image."""
    input:
        inputs=LST_PATHS["eval_inputs"],
        code=code("lst", "baseline"),
    output:
        predictions=directory(LST_PATHS["predictions"]),
    wildcard_constraints:
        lst_method="|".join(LST["baselines"]) or "(?!)",
    params:
        cfg=lst_baseline_cfg,
    log:
        LOGS / "lst" / "baseline_{lst_method}.log",
    benchmark:
        BENCH / "lst" / "baseline_{lst_method}.tsv"
    threads: 1
    conda:
        ENV
    shell:
        "python -m eoml lst baseline --method {wildcards.lst_method} --inputs {input.inputs:q}"
        " --output {output.predictions:q} --threads {threads} --config-json {params.cfg:q} > {log:q} 2>&1"


rule lst_train:
    """Train one multi-residual U-Net (Wald's protocol or MixGL); keep the best validation epoch."""
    input:
        patches=LST_PATHS["patches"],
        code=code("lst", "train"),
    output:
        model=lst_path("model", file="model.pt"),
        history=lst_path("model", file="history.csv"),
    params:
        cfg=lst_train_cfg,
        out_dir=output_dir,
        # outside the outputs: Snakemake deletes outputs of a failed job, checkpoints must survive
        ckpt_dir=lst_ckpt_dir,
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=240,
    threads: 1
    log:
        LOGS / "lst" / "train_{lst_model}.log",
    benchmark:
        BENCH / "lst" / "train_{lst_model}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml lst train --patches {input.patches:q} --out-dir {params.out_dir:q}"
        " --ckpt-dir {params.ckpt_dir:q} --threads {threads} --config-json {params.cfg:q} > {log:q} 2>&1"


rule lst_predict:
    """Apply a trained U-Net to every evaluation image."""
    input:
        model=lst_path("model", lst_model="{lst_method}", file="model.pt"),
        inputs=LST_PATHS["eval_inputs"],
        code=code("lst", "predict"),
    output:
        predictions=directory(LST_PATHS["predictions"]),
    wildcard_constraints:
        lst_method="|".join(LST_MODELS) or "(?!)",
    threads: 1
    log:
        LOGS / "lst" / "predict_{lst_method}.log",
    benchmark:
        BENCH / "lst" / "predict_{lst_method}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml lst predict --model {input.model:q} --inputs {input.inputs:q}"
        " --output {output.predictions:q} --threads {threads} > {log:q} 2>&1"


rule lst_evaluate:
    """PSNR, SSIM and RMSE of every method on every evaluation dataset, and their ranking."""
    input:
        inputs=LST_PATHS["eval_inputs"],
        predictions=lst_predictions(),
        code=code("lst", "evaluate"),
    output:
        metrics=report(
            lst_metrics("sharpening"),
            caption="../report/lst/sharpening_table.rst",
            category="lst",
            subcategory="tables",
            labels={"table": "sharpening metrics"},
        ),
        ranking=report(
            lst_metrics("ranking"),
            caption="../report/lst/ranking_table.rst",
            category="lst",
            subcategory="tables",
            labels={"table": "ranking"},
        ),
    params:
        cfg=lst_cfg("evaluate"),
    log:
        LOGS / "lst" / "evaluate.log",
    conda:
        ENV
    shell:
        "python -m eoml lst evaluate --inputs {input.inputs:q} --predictions {input.predictions:q}"
        " --metrics {output.metrics:q} --ranking {output.ranking:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule lst_figure_maps:
    """LST maps of every method beside the reference, and their error maps, for one dataset."""
    input:
        inputs=LST_PATHS["eval_inputs"],
        predictions=lst_predictions(),
        code=code("lst", "figure-maps"),
    output:
        **figure_outputs(
            lst_figure("maps_{lst_dataset}"),
            caption="../report/lst/maps.rst",
            category="lst",
            subcategory="maps",
            labels={"figure": "maps", "dataset": "{lst_dataset}"},
        ),
    log:
        LOGS / "lst" / "figure_maps_{lst_dataset}.log",
    conda:
        ENV
    shell:
        "python -m eoml lst figure-maps --inputs {input.inputs:q} --dataset {wildcards.lst_dataset}"
        " --predictions {input.predictions:q} --output {output.figure:q} > {log:q} 2>&1"


rule lst_figure_losses:
    """Training and validation loss curves (total, MSE and MGE terms) of every U-Net."""
    input:
        histories=lst_model_files("history.csv"),
        code=code("lst", "figure-losses"),
    output:
        **figure_outputs(
            lst_figure("loss_curves"),
            caption="../report/lst/loss_curves.rst",
            category="lst",
            subcategory="training",
            labels={"figure": "loss curves"},
        ),
    log:
        LOGS / "lst" / "figure_losses.log",
    conda:
        ENV
    shell:
        "python -m eoml lst figure-losses --histories {input.histories:q} --output {output.figure:q} > {log:q} 2>&1"


rule lst_figure_metrics:
    """PSNR, SSIM and RMSE of every method on every dataset (bar charts)."""
    input:
        metrics=lst_metrics("sharpening"),
        code=code("lst", "figure-metrics"),
    output:
        **figure_outputs(
            lst_figure("metrics"),
            caption="../report/lst/metrics.rst",
            category="lst",
            subcategory="skill",
            labels={"figure": "metrics"},
        ),
    log:
        LOGS / "lst" / "figure_metrics.log",
    conda:
        ENV
    shell:
        "python -m eoml lst figure-metrics --metrics {input.metrics:q} --output {output.figure:q} > {log:q} 2>&1"


rule lst_figure_modis_250m:
    """A held-out MODIS region sharpened to 250 m by every method, beside the 1 km LST and the NDVI."""
    input:
        patches=LST_PATHS["patches"],
        scenes=lst_scene_stores(),
        models=lst_model_files("model.pt"),
        code=code("lst", "figure-modis250m"),
    output:
        **figure_outputs(
            lst_figure("modis_250m"),
            caption="../report/lst/modis_250m.rst",
            category="lst",
            subcategory="maps",
            labels={"figure": "MODIS at 250 m"},
        ),
    params:
        cfg=lst_cfg("figure-modis250m"),
    log:
        LOGS / "lst" / "figure_modis_250m.log",
    conda:
        ENV
    shell:
        "python -m eoml lst figure-modis250m --patches {input.patches:q} --scene {input.scenes:q}"
        " --models {input.models:q} --output {output.figure:q} --config-json {params.cfg:q} > {log:q} 2>&1"
