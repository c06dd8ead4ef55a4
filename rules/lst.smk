# lst: super-resolving MODIS land-surface temperature 1 km -> 250 m (MRUNet vs classical sharpeners).
#
# MOD11A1 + MOD09GQ granule pair --(one ingest job per tile and date)--> scenes/*.zarr --> patches.zarr
# patches.zarr --> U-Nets (one gpu=1 job each) --> model.pt
# patches.zarr + validation GeoTIFFs --> eval/inputs.zarr --> baselines (CPU jobs) / model predictions
# predictions --> sharpening.csv, ranking.csv, figures


wildcard_constraints:
    lst_scene=r"h\d{2}v\d{2}_\d{4}-\d{2}-\d{2}",
    lst_method="bilinear|bicubic|tsharp|atprk|aatprk",
    lst_model=lst_model_pattern(),
    lst_dataset=r"[A-Za-z][A-Za-z0-9_]*",


if LST["source"] == "demo":

    rule lst_demo_raw:
        """Generate the demo's MOD11A1 / MOD09GQ HDF4-EOS granules and validation GeoTIFF scenes."""
        input:
            code=code("lst.demo", "lst.scaling"),
        output:
            lst_demo_outputs(),
        params:
            out_dir=lst_demo_dir,
            cfg=lst_demo_cfg(),
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
        mod11a1=lst_pair_mod11a1,
        mod09gq=lst_pair_mod09gq,
        code=code("lst.readers", "lst.ingest", "core.store"),
    output:
        store=directory(LST_OUT / "scenes" / "{lst_scene}.zarr"),
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
        code=code("lst.ingest", "core.store"),
    output:
        store=directory(LST_PATCHES),
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
        patches=LST_PATCHES,
        scenes=lst_scene_files(),
        code=code("lst.evaluate", "lst.readers", "lst.scaling", "core.store"),
    output:
        store=directory(LST_EVAL_INPUTS),
    params:
        cfg=lst_eval_inputs_cfg(),
    log:
        LOGS / "lst" / "eval_inputs.log",
    conda:
        ENV
    shell:
        "python -m eoml lst eval-inputs --patches {input.patches:q} --output {output.store:q}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule lst_baseline:
    """Run one classical sharpener (bilinear, bicubic, TsHARP, ATPRK, AATPRK) on every evaluation image."""
    input:
        inputs=LST_EVAL_INPUTS,
        code=code("lst.evaluate", "lst.baselines", "lst.variogram", "lst.scaling"),
    output:
        predictions=LST_OUT / "eval" / "predictions" / "{lst_method}.nc",
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
        patches=LST_PATCHES,
        code=code("core.training", "lst.models", "lst.losses", "lst.train", "lst.scaling"),
    output:
        model=LST_OUT / "models" / "{lst_model}" / "model.pt",
        history=LST_OUT / "models" / "{lst_model}" / "history.csv",
    params:
        cfg=lst_train_cfg,
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
        "python -m eoml lst train --patches {input.patches:q} --out-dir $(dirname {output.model:q})"
        " --ckpt-dir {params.ckpt_dir:q} --threads {threads} --config-json {params.cfg:q} > {log:q} 2>&1"


rule lst_predict:
    """Apply a trained U-Net to every evaluation image."""
    input:
        model=LST_OUT / "models" / "{lst_model}" / "model.pt",
        inputs=LST_EVAL_INPUTS,
        code=code("lst.evaluate", "lst.train", "lst.models", "lst.scaling"),
    output:
        predictions=LST_OUT / "eval" / "predictions" / "{lst_model}.nc",
    threads: 1
    log:
        LOGS / "lst" / "predict_{lst_model}.log",
    conda:
        ENV
    shell:
        "python -m eoml lst predict --model {input.model:q} --inputs {input.inputs:q}"
        " --output {output.predictions:q} --threads {threads} > {log:q} 2>&1"


rule lst_evaluate:
    """PSNR, SSIM and RMSE of every method on every evaluation dataset, and their ranking."""
    input:
        inputs=LST_EVAL_INPUTS,
        predictions=lst_predictions(),
        code=code("lst.evaluate"),
    output:
        metrics=report(
            LST_OUT / "metrics" / "sharpening.csv",
            caption="../report/lst/sharpening_table.rst",
            category="lst",
            subcategory="tables",
            labels={"table": "sharpening metrics"},
        ),
        ranking=report(
            LST_OUT / "metrics" / "ranking.csv",
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
        inputs=LST_EVAL_INPUTS,
        predictions=lst_predictions(),
        code=code("lst.figures", "core.plotting"),
    output:
        figure=report(
            LST_OUT / "figures" / "maps_{lst_dataset}.png",
            caption="../report/lst/maps.rst",
            category="lst",
            subcategory="maps",
            labels={"figure": "maps", "dataset": "{lst_dataset}"},
        ),
    params:
        cfg=lst_cfg("maps"),
    log:
        LOGS / "lst" / "figure_maps_{lst_dataset}.log",
    conda:
        ENV
    shell:
        "python -m eoml lst figure maps --inputs {input.inputs:q} --dataset {wildcards.lst_dataset}"
        " --predictions {input.predictions:q} --output {output.figure:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule lst_figure_losses:
    """Training and validation loss curves (total, MSE and MGE terms) of every U-Net."""
    input:
        histories=lst_histories(),
        code=code("lst.figures", "core.plotting"),
    output:
        figure=report(
            LST_OUT / "figures" / "loss_curves.png",
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
        "python -m eoml lst figure losses --histories {input.histories:q} --output {output.figure:q}"
        " --config-json '{{}}' > {log:q} 2>&1"


rule lst_figure_metrics:
    """PSNR, SSIM and RMSE of every method on every dataset (bar charts)."""
    input:
        metrics=LST_OUT / "metrics" / "sharpening.csv",
        code=code("lst.figures", "core.plotting"),
    output:
        figure=report(
            LST_OUT / "figures" / "metrics.png",
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
        "python -m eoml lst figure metrics --metrics {input.metrics:q} --output {output.figure:q}"
        " --config-json '{{}}' > {log:q} 2>&1"


rule lst_figure_modis_250m:
    """A held-out MODIS region sharpened to 250 m by every method, beside the 1 km LST and the NDVI."""
    input:
        patches=LST_PATCHES,
        scenes=lst_scene_stores(),
        models=lst_model_files(),
        code=code("lst.figures", "lst.baselines", "lst.train", "core.plotting"),
    output:
        figure=report(
            LST_OUT / "figures" / "modis_250m.png",
            caption="../report/lst/modis_250m.rst",
            category="lst",
            subcategory="maps",
            labels={"figure": "MODIS at 250 m"},
        ),
    params:
        cfg=lst_cfg("modis250m"),
    log:
        LOGS / "lst" / "figure_modis_250m.log",
    conda:
        ENV
    shell:
        "python -m eoml lst figure modis250m --patches {input.patches:q} --scene {input.scenes:q}"
        " --models {input.models:q} --output {output.figure:q} --config-json {params.cfg:q} > {log:q} 2>&1"
