# aot: forecasting high aerosol optical thickness from MODIS 8-day composite sequences.
#
# raw composites (NEO GeoTIFF / PNG, MOD08_E3 HDF4) --(one ingest job)--> store.zarr (time, lat, lon)
# store --> one training job per configuration x seed (gpu=1): model.pt + val/test predictions
# store --> persistence and climatology baselines (CPU) --> the same prediction stores
# predictions --> scores.csv, criteria.csv (ddc, dtc, ddr, dtr), the paper's tables, figures
import re


include: "helpers/aot.smk"


wildcard_constraints:
    aot_config="|".join(re.escape(c) for c in AOT_RUNS) or "(?!)",
    aot_baseline="|".join(BASELINES),
    seed=r"\d+",


if AOT["source"] == "demo":

    rule aot_demo_raw:
        """Generate the demo's global 8-day AOT series as NEO float GeoTIFFs and MOD08_E3 HDF4 granules."""
        input:
            code=code("aot", "demo"),
        output:
            files=aot_demo_files(),
        params:
            out_dir=AOT_DEMO_DIR,
            cfg=aot_cfg("demo"),
        log:
            LOGS / "aot" / "demo_raw.log",
        benchmark:
            BENCH / "aot" / "demo_raw.tsv"
        conda:
            ENV
        shell:
            "python -m eoml aot demo --out-dir {params.out_dir:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule aot_ingest:
    """Read every composite, average it (area-weighted, valid pixels) onto the study grid, label AOT above the threshold."""
    input:
        files=aot_raw_files(),
        code=code("aot", "ingest"),
    output:
        store=directory(AOT_PATHS["store"]),
    params:
        cfg=aot_cfg("ingest"),
        source=aot_source(),
    log:
        LOGS / "aot" / "ingest.log",
    benchmark:
        BENCH / "aot" / "ingest.tsv"
    conda:
        ENV
    shell:
        "python -m eoml aot ingest --files {input.files:q} --source {params.source} --output {output.store:q}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule aot_train:
    """Train one configuration of the grid with one seed (best validation epoch) and predict its validation and test targets."""
    input:
        store=AOT_PATHS["store"],
        code=code("aot", "train"),
    output:
        model=aot_run_file("model.pt"),
        history=aot_run_file("history.csv"),
        predictions=directory(aot_run_file("predictions.zarr")),
    params:
        cfg=aot_cfg("train"),
        run=aot_run_json,
        out_dir=output_dir,
        # outside the outputs: Snakemake deletes outputs of a failed job, checkpoints must survive
        ckpt_dir=aot_ckpt_dir,
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=720,
    threads: 1
    log:
        LOGS / "aot" / "train_{aot_config}_seed{seed}.log",
    benchmark:
        BENCH / "aot" / "train_{aot_config}_seed{seed}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml aot train --store {input.store:q} --config-id {wildcards.aot_config} --run-json {params.run:q}"
        " --seed {wildcards.seed} --out-dir {params.out_dir:q} --ckpt-dir {params.ckpt_dir:q} --threads {threads}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule aot_baseline:
    """Persistence (the last composite's mask) or climatology (per-pixel frequency of the period in the training years)."""
    input:
        store=AOT_PATHS["store"],
        code=code("aot", "baseline"),
    output:
        predictions=directory(AOT_PATHS["baseline"]),
    params:
        cfg=aot_cfg("baseline"),
    log:
        LOGS / "aot" / "baseline_{aot_baseline}.log",
    conda:
        ENV
    shell:
        "python -m eoml aot baseline --name {wildcards.aot_baseline} --store {input.store:q}"
        " --output {output.predictions:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule aot_evaluate:
    """Thresholds on validation; RMSE, accuracy, F1, Jaccard, AUC-PR; ddc / dtc criteria; the paper's tables."""
    input:
        store=AOT_PATHS["store"],
        predictions=aot_predictions(),
        code=code("aot", "evaluate"),
    output:
        scores=report(
            aot_metrics("scores"),
            caption="../report/aot/scores.rst",
            category="aot",
            subcategory="tables",
            labels={"table": "scores"},
        ),
        criteria=report(
            aot_metrics("criteria"),
            caption="../report/aot/criteria.rst",
            category="aot",
            subcategory="tables",
            labels={"table": "criteria (ddc, dtc)"},
        ),
        grid=aot_metrics("grid"),
        batch_size=aot_metrics("batch_size"),
        input_length=aot_metrics("input_length"),
        test=report(
            aot_metrics("test"),
            caption="../report/aot/test_table.rst",
            category="aot",
            subcategory="tables",
            labels={"table": "test scores of the best configurations"},
        ),
    params:
        cfg=aot_cfg("evaluate"),
        out_dir=output_dir,
    log:
        LOGS / "aot" / "evaluate.log",
    conda:
        ENV
    shell:
        "python -m eoml aot evaluate --store {input.store:q} --predictions {input.predictions:q}"
        " --out-dir {params.out_dir:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule aot_figure_maps:
    """Inputs, target, and every model's probability map and mask for test dates."""
    input:
        store=AOT_PATHS["store"],
        predictions=aot_predictions(),
        scores=aot_metrics("scores"),
        code=code("aot", "figure-maps"),
    output:
        **figure_outputs(
            aot_figure("maps"),
            caption="../report/aot/maps.rst",
            category="aot",
            subcategory="maps",
            labels={"figure": "maps"},
        ),
    params:
        cfg=aot_cfg("figures"),
    log:
        LOGS / "aot" / "figure_maps.log",
    conda:
        ENV
    shell:
        "python -m eoml aot figure-maps --store {input.store:q} --predictions {input.predictions:q} --scores {input.scores:q} --output {output.figure:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule aot_figure_pr_curves:
    """Test precision-recall curves of every model's best configuration and the baselines."""
    input:
        store=AOT_PATHS["store"],
        predictions=aot_predictions(),
        scores=aot_metrics("scores"),
        code=code("aot", "figure-pr-curves"),
    output:
        **figure_outputs(
            aot_figure("pr_curves"),
            caption="../report/aot/pr_curves.rst",
            category="aot",
            subcategory="skill",
            labels={"figure": "pr curves"},
        ),
    log:
        LOGS / "aot" / "figure_pr_curves.log",
    conda:
        ENV
    shell:
        "python -m eoml aot figure-pr-curves --store {input.store:q} --predictions {input.predictions:q} --scores {input.scores:q} --output {output.figure:q} > {log:q} 2>&1"


rule aot_figure_input_length:
    """Test AUC-PR and RMSE against the input length, mean and 2 sigma over seeds."""
    input:
        scores=aot_metrics("scores"),
        code=code("aot", "figure-input-length"),
    output:
        **figure_outputs(
            aot_figure("input_length"),
            caption="../report/aot/input_length.rst",
            category="aot",
            subcategory="skill",
            labels={"figure": "input length"},
        ),
    log:
        LOGS / "aot" / "figure_input_length.log",
    conda:
        ENV
    shell:
        "python -m eoml aot figure-input-length --scores {input.scores:q} --output {output.figure:q} > {log:q} 2>&1"


rule aot_figure_batch_size:
    """Test AUC-PR and RMSE against the batch size, mean and 2 sigma over seeds."""
    input:
        scores=aot_metrics("scores"),
        code=code("aot", "figure-batch-size"),
    output:
        **figure_outputs(
            aot_figure("batch_size"),
            caption="../report/aot/batch_size.rst",
            category="aot",
            subcategory="skill",
            labels={"figure": "batch size"},
        ),
    log:
        LOGS / "aot" / "figure_batch_size.log",
    conda:
        ENV
    shell:
        "python -m eoml aot figure-batch-size --scores {input.scores:q} --output {output.figure:q} > {log:q} 2>&1"


rule aot_figure_thresholds:
    """Validation F1, accuracy and Jaccard against the threshold; the chosen threshold marked."""
    input:
        store=AOT_PATHS["store"],
        predictions=aot_predictions(),
        scores=aot_metrics("scores"),
        code=code("aot", "figure-thresholds"),
    output:
        **figure_outputs(
            aot_figure("thresholds"),
            caption="../report/aot/thresholds.rst",
            category="aot",
            subcategory="skill",
            labels={"figure": "thresholds"},
        ),
    log:
        LOGS / "aot" / "figure_thresholds.log",
    conda:
        ENV
    shell:
        "python -m eoml aot figure-thresholds --store {input.store:q} --predictions {input.predictions:q} --scores {input.scores:q} --output {output.figure:q} > {log:q} 2>&1"


rule aot_figure_skill_map:
    """Per-pixel Brier skill of the best model and of climatology against persistence on the test targets."""
    input:
        store=AOT_PATHS["store"],
        predictions=aot_predictions(),
        scores=aot_metrics("scores"),
        code=code("aot", "figure-skill-map"),
    output:
        **figure_outputs(
            aot_figure("skill_map"),
            caption="../report/aot/skill_map.rst",
            category="aot",
            subcategory="maps",
            labels={"figure": "skill map"},
        ),
    log:
        LOGS / "aot" / "figure_skill_map.log",
    conda:
        ENV
    shell:
        "python -m eoml aot figure-skill-map --store {input.store:q} --predictions {input.predictions:q} --scores {input.scores:q} --output {output.figure:q} > {log:q} 2>&1"
