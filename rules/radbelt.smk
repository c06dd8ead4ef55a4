# radbelt: forecasting 1 MeV electrons in the outer Van Allen belt (PreMevE 2.0).
#
# raw files --(one ingest job per day: RBSP + POES; per OMNI file)--> partials --(combine)--> store.zarr
# store --> OLS / neural nets (model x lead x seed, gpu=1) / baselines --> predictions.zarr
# predictions --> pe.csv, onsets.csv, figures


include: "helpers/radbelt.smk"


wildcard_constraints:
    group=SAFE_ID,
    rb_model="|".join(RB_NEURAL) or "(?!)",
    rb_baseline="|".join(RB["baselines"]) or "(?!)",
    lead=r"\d+",
    seed=r"\d+",
    hours=r"\d+",


if RB["source"] == "demo":

    rule radbelt_demo_raw:
        """Generate the demo's raw files in the agencies' formats (MagEIS L3 CDF, POES netCDF, OMNI2 ASCII)."""
        input:
            code=code("radbelt", "demo"),
        output:
            sorted(path for items in RB_GROUPS.values() for _, path in items),
        params:
            out_dir=RB_DEMO_DIR,
            cfg=radbelt_cfg("demo"),
        log:
            LOGS / "radbelt" / "demo_raw.log",
        benchmark:
            BENCH / "radbelt" / "demo_raw.tsv"
        conda:
            ENV
        shell:
            "python -m eoml radbelt demo --out-dir {params.out_dir:q} --config-json {params.cfg:q} > {log:q} 2>&1"


if RB["source"] in ("demo", "raw"):

    rule radbelt_ingest:
        """Bin one day's raw files (or one OMNI file) onto the 5-hour x L grid: sums and counts of log10 flux."""
        input:
            raw=radbelt_group_files,
            code=code("radbelt", "ingest"),
        output:
            partial=RB_PATHS["partial"],
        params:
            files=radbelt_group_items,
            cfg=radbelt_cfg("ingest"),
        log:
            LOGS / "radbelt" / "ingest" / "{group}.log",
        benchmark:
            BENCH / "radbelt" / "ingest" / "{group}.tsv"
        conda:
            ENV
        shell:
            "python -m eoml radbelt ingest {params.files} --output {output.partial:q}"
            " --config-json {params.cfg:q} > {log:q} 2>&1"

    rule radbelt_combine:
        """Combine the per-file partials into the (time, L) Zarr store."""
        input:
            partials=expand(RB_PATHS["partial"], group=RB_GROUPS),
            code=code("radbelt", "combine"),
        output:
            store=directory(RB_PATHS["store"]),
        params:
            cfg=radbelt_cfg("combine"),
        log:
            LOGS / "radbelt" / "combine.log",
        benchmark:
            BENCH / "radbelt" / "combine.tsv"
        conda:
            ENV
        shell:
            "python -m eoml radbelt combine --output {output.store:q} --config-json {params.cfg:q}"
            " --partials {input.partials:q} > {log:q} 2>&1"


if RB["source"] == "premeve_ascii":

    rule radbelt_ingest_premeve:
        """Read LANL's PreMevE ASCII exchange files into the (time, L) Zarr store."""
        input:
            files=radbelt_premeve_files(),
            code=code("radbelt", "ingest-premeve"),
        output:
            store=directory(RB_PATHS["store"]),
        params:
            cfg=radbelt_cfg("combine"),
            premeve_dir=RB["premeve_dir"],
        log:
            LOGS / "radbelt" / "ingest_premeve.log",
        benchmark:
            BENCH / "radbelt" / "ingest_premeve.tsv"
        conda:
            ENV
        shell:
            "python -m eoml radbelt ingest-premeve --input-dir {params.premeve_dir:q}"
            " --output {output.store:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule radbelt_train:
    """Train one neural model (MLP, 1-D CNN or LSTM) for one lead and seed; keep the best epoch."""
    input:
        store=RB_PATHS["store"],
        code=code("radbelt", "train"),
    output:
        predictions=directory(radbelt_neural("predictions.zarr")),
        weights=radbelt_neural("model.pt"),
        history=radbelt_neural("history.csv"),
    params:
        cfg=radbelt_cfg("train"),
        out_dir=output_dir,
        # outside the outputs: Snakemake deletes outputs of a failed job, checkpoints must survive
        ckpt_dir=radbelt_ckpt_dir,
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    threads: 1
    log:
        LOGS / "radbelt" / "train" / "{rb_model}_lead{lead}_seed{seed}.log",
    benchmark:
        BENCH / "radbelt" / "train" / "{rb_model}_lead{lead}_seed{seed}.tsv"
    conda:
        ENV
    shell:
        "python -m eoml radbelt train --store {input.store:q} --model {wildcards.rb_model}"
        " --lead {wildcards.lead} --seed {wildcards.seed} --threads {threads}"
        " --out-dir {params.out_dir:q} --ckpt-dir {params.ckpt_dir:q}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule radbelt_linreg:
    """Ordinary least squares per L-shell (the paper's LinearReg), closed form on CPU."""
    input:
        store=RB_PATHS["store"],
        code=code("radbelt", "linreg"),
    output:
        predictions=directory(RB_PATHS["linreg"]),
    params:
        cfg=radbelt_cfg("linreg"),
    log:
        LOGS / "radbelt" / "linreg_lead{lead}.log",
    conda:
        ENV
    shell:
        "python -m eoml radbelt linreg --store {input.store:q} --lead {wildcards.lead}"
        " --output {output.predictions:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule radbelt_baseline:
    """Persistence (reference, uses the in-situ target) or the PreMevE 1.0 linear prediction filter."""
    input:
        store=RB_PATHS["store"],
        code=code("radbelt", "baseline"),
    output:
        predictions=directory(RB_PATHS["baseline"]),
    params:
        cfg=radbelt_cfg("baseline"),
    log:
        LOGS / "radbelt" / "baseline_{rb_baseline}_lead{lead}.log",
    conda:
        ENV
    shell:
        "python -m eoml radbelt baseline --store {input.store:q} --name {wildcards.rb_baseline}"
        " --lead {wildcards.lead} --output {output.predictions:q} --config-json {params.cfg:q}"
        " > {log:q} 2>&1"


rule radbelt_evaluate:
    """Performance efficiency per L-shell / L-averaged / GEO and onset success rates."""
    input:
        predictions=[p for lead in RB["leads"] for p in _radbelt_predictions(lead)],
        code=code("radbelt", "evaluate"),
    output:
        pe=report(
            radbelt_metrics("pe"),
            caption="../report/radbelt/pe_table.rst",
            category="radbelt",
            subcategory="tables",
            labels={"table": "performance efficiency"},
        ),
        pe_seeds=radbelt_metrics("pe_seeds"),
        onsets=report(
            radbelt_metrics("onsets"),
            caption="../report/radbelt/onsets_table.rst",
            category="radbelt",
            subcategory="tables",
            labels={"table": "onset events"},
        ),
        onsets_summary=report(
            radbelt_metrics("onsets_summary"),
            caption="../report/radbelt/onsets_summary.rst",
            category="radbelt",
            subcategory="tables",
            labels={"table": "onset success rates"},
        ),
    params:
        cfg=radbelt_cfg("evaluate"),
    log:
        LOGS / "radbelt" / "evaluate.log",
    conda:
        ENV
    shell:
        "python -m eoml radbelt evaluate --pe-csv {output.pe:q} --pe-seeds-csv {output.pe_seeds:q}"
        " --onsets-csv {output.onsets:q} --onsets-summary-csv {output.onsets_summary:q}"
        " --config-json {params.cfg:q} --predictions {input.predictions:q} > {log:q} 2>&1"


rule radbelt_spearman:
    """Spearman rank correlation of each input with the target versus time lag."""
    input:
        store=RB_PATHS["store"],
        code=code("radbelt", "spearman"),
    output:
        table=radbelt_metrics("spearman"),
    params:
        cfg=radbelt_cfg("spearman"),
    log:
        LOGS / "radbelt" / "spearman.log",
    conda:
        ENV
    shell:
        "python -m eoml radbelt spearman --store {input.store:q} --output {output.table:q}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule radbelt_figure_maps:
    """Observed vs forecast L-time maps for one lead."""
    input:
        predictions=radbelt_lead_predictions,
        code=code("radbelt", "figure-maps"),
    output:
        **figure_outputs(
            radbelt_figure("lt_maps_lead{hours}h"),
            caption="../report/radbelt/lt_maps.rst",
            category="radbelt",
            subcategory="forecast maps",
            labels={"figure": "L-time maps", "lead": "{hours} h"},
        ),
    log:
        LOGS / "radbelt" / "figure_maps_{hours}h.log",
    conda:
        ENV
    shell:
        "python -m eoml radbelt figure-maps --lead-hours {wildcards.hours}"
        " --output {output.figure:q} --predictions {input.predictions:q} > {log:q} 2>&1"


rule radbelt_figure_timeseries:
    """Observed and forecast flux at three L-shells with the detected event windows."""
    input:
        predictions=radbelt_lead_predictions,
        onsets=radbelt_metrics("onsets"),
        code=code("radbelt", "figure-timeseries"),
    output:
        **figure_outputs(
            radbelt_figure("timeseries_lead{hours}h"),
            caption="../report/radbelt/timeseries.rst",
            category="radbelt",
            subcategory="time series",
            labels={"figure": "time series", "lead": "{hours} h"},
        ),
    params:
        cfg=radbelt_cfg("figure-timeseries"),
    log:
        LOGS / "radbelt" / "figure_timeseries_{hours}h.log",
    conda:
        ENV
    shell:
        "python -m eoml radbelt figure-timeseries --lead-hours {wildcards.hours}"
        " --onsets {input.onsets:q} --output {output.figure:q} --config-json {params.cfg:q}"
        " --predictions {input.predictions:q} > {log:q} 2>&1"


rule radbelt_figure_pe:
    """Performance efficiency versus L-shell for every model and lead."""
    input:
        pe=radbelt_metrics("pe"),
        code=code("radbelt", "figure-pe"),
    output:
        **figure_outputs(
            radbelt_figure("pe_vs_L"),
            caption="../report/radbelt/pe_vs_L.rst",
            category="radbelt",
            subcategory="skill",
            labels={"figure": "PE vs L"},
        ),
    log:
        LOGS / "radbelt" / "figure_pe.log",
    conda:
        ENV
    shell:
        "python -m eoml radbelt figure-pe --pe-csv {input.pe:q} --output {output.figure:q} > {log:q} 2>&1"


rule radbelt_figure_spearman:
    """L-averaged Spearman correlation of each input with the target versus lag."""
    input:
        table=radbelt_metrics("spearman"),
        code=code("radbelt", "figure-spearman"),
    output:
        **figure_outputs(
            radbelt_figure("spearman_lags"),
            caption="../report/radbelt/spearman.rst",
            category="radbelt",
            subcategory="inputs",
            labels={"figure": "Spearman vs lag"},
        ),
    log:
        LOGS / "radbelt" / "figure_spearman.log",
    conda:
        ENV
    shell:
        "python -m eoml radbelt figure-spearman --spearman-csv {input.table:q}"
        " --output {output.figure:q} > {log:q} 2>&1"
