# radbelt: forecasting 1 MeV electrons in the outer Van Allen belt (PreMevE 2.0).
#
# raw files --(one ingest job per day: RBSP + POES; per OMNI file)--> partials --(combine)--> store.zarr
# store --> OLS / neural nets (model x lead x seed, gpu=1) / baselines --> predictions.nc
# predictions --> pe.csv, onsets.csv, figures


wildcard_constraints:
    group=r"[\w.-]+",
    rb_model="mlp|cnn|lstm",
    rb_baseline="persistence|lpf",
    lead=r"\d+",
    seed=r"\d+",
    hours=r"\d+",


if RB["source"] == "demo":

    rule radbelt_demo_raw:
        """Generate the demo's raw files in the agencies' formats (MagEIS L3 CDF, POES netCDF, OMNI2 ASCII)."""
        input:
            code=code("radbelt.demo"),
        output:
            radbelt_demo_outputs(),
        params:
            out_dir=radbelt_demo_dir,
            start=RB["demo"]["start"],
            days=RB["demo"]["days"],
            seed=RB["demo"]["seed"],
        log:
            LOGS / "radbelt" / "demo_raw.log",
        benchmark:
            BENCH / "radbelt" / "demo_raw.tsv"
        conda:
            ENV
        shell:
            "python -m eoml radbelt demo --out-dir {params.out_dir:q} --start {params.start}"
            " --days {params.days} --seed {params.seed} > {log:q} 2>&1"


if RB["source"] in ("demo", "raw"):

    rule radbelt_ingest:
        """Bin one day's raw files (or one OMNI file) onto the 5-hour x L grid: sums and counts of log10 flux."""
        input:
            raw=radbelt_group_files,
            code=code("radbelt.readers", "radbelt.ingest", "radbelt.grid"),
        output:
            partial=RB_OUT / "partials" / "{group}.nc",
        params:
            files=radbelt_group_items,
            cfg=radbelt_cfg("ingest"),
        log:
            LOGS / "radbelt" / "ingest" / "{group}.log",
        conda:
            ENV
        shell:
            "python -m eoml radbelt ingest {params.files} --output {output.partial:q}"
            " --config-json {params.cfg:q} > {log:q} 2>&1"

    rule radbelt_combine:
        """Combine the per-file partials into the (time, L) Zarr store."""
        input:
            partials=radbelt_partials(),
            code=code("radbelt.ingest", "radbelt.grid", "core.store"),
        output:
            store=directory(RB_STORE),
        params:
            cfg=radbelt_cfg("store"),
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
            code=code("radbelt.readers", "radbelt.ingest", "radbelt.grid", "core.store"),
        output:
            store=directory(RB_STORE),
        params:
            cfg=radbelt_cfg("store"),
            premeve_dir=RB["premeve_dir"],
        log:
            LOGS / "radbelt" / "ingest_premeve.log",
        conda:
            ENV
        shell:
            "python -m eoml radbelt ingest-premeve --input-dir {params.premeve_dir:q}"
            " --output {output.store:q} --config-json {params.cfg:q} > {log:q} 2>&1"


rule radbelt_train:
    """Train one neural model (MLP, 1-D CNN or LSTM) for one lead and seed; keep the best epoch."""
    input:
        store=RB_STORE,
        code=code(
            "core.training", "radbelt.data", "radbelt.models", "radbelt.train"
        ),
    output:
        predictions=RB_OUT / "models" / "{rb_model}" / "lead{lead}" / "seed{seed}" / "predictions.nc",
        weights=RB_OUT / "models" / "{rb_model}" / "lead{lead}" / "seed{seed}" / "model.pt",
    params:
        cfg=radbelt_cfg("train"),
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
        " --out-dir $(dirname {output.predictions:q}) --ckpt-dir {params.ckpt_dir:q}"
        " --config-json {params.cfg:q} > {log:q} 2>&1"


rule radbelt_linreg:
    """Ordinary least squares per L-shell (the paper's LinearReg), closed form on CPU."""
    input:
        store=RB_STORE,
        code=code("radbelt.data", "radbelt.models", "radbelt.train"),
    output:
        predictions=RB_OUT / "models" / "linreg" / "lead{lead}" / "predictions.nc",
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
        store=RB_STORE,
        code=code("radbelt.data", "radbelt.baselines"),
    output:
        predictions=RB_OUT / "baselines" / "{rb_baseline}" / "lead{lead}" / "predictions.nc",
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
        predictions=radbelt_all_predictions(),
        code=code("radbelt.evaluate", "core.metrics"),
    output:
        pe=report(
            RB_OUT / "metrics" / "pe.csv",
            caption="../report/radbelt/pe_table.rst",
            category="radbelt",
            subcategory="tables",
            labels={"table": "performance efficiency"},
        ),
        pe_seeds=RB_OUT / "metrics" / "pe_seeds.csv",
        onsets=report(
            RB_OUT / "metrics" / "onsets.csv",
            caption="../report/radbelt/onsets_table.rst",
            category="radbelt",
            subcategory="tables",
            labels={"table": "onset events"},
        ),
        onsets_summary=report(
            RB_OUT / "metrics" / "onsets_summary.csv",
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
        store=RB_STORE,
        code=code("radbelt.evaluate"),
    output:
        table=RB_OUT / "metrics" / "spearman.csv",
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
        code=code("radbelt.figures", "core.plotting"),
    output:
        figure=report(
            RB_OUT / "figures" / "lt_maps_lead{hours}h.png",
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
        "python -m eoml radbelt figure maps --lead-hours {wildcards.hours}"
        " --output {output.figure:q} --predictions {input.predictions:q} > {log:q} 2>&1"


rule radbelt_figure_timeseries:
    """Observed and forecast flux at three L-shells with the detected event windows."""
    input:
        predictions=radbelt_lead_predictions,
        onsets=RB_OUT / "metrics" / "onsets.csv",
        code=code("radbelt.figures", "core.plotting"),
    output:
        figure=report(
            RB_OUT / "figures" / "timeseries_lead{hours}h.png",
            caption="../report/radbelt/timeseries.rst",
            category="radbelt",
            subcategory="time series",
            labels={"figure": "time series", "lead": "{hours} h"},
        ),
    params:
        L=" ".join(str(v) for v in RB["timeseries_L"]),
    log:
        LOGS / "radbelt" / "figure_timeseries_{hours}h.log",
    conda:
        ENV
    shell:
        "python -m eoml radbelt figure timeseries --lead-hours {wildcards.hours}"
        " --onsets {input.onsets:q} --L {params.L} --output {output.figure:q}"
        " --predictions {input.predictions:q} > {log:q} 2>&1"


rule radbelt_figure_pe:
    """Performance efficiency versus L-shell for every model and lead."""
    input:
        pe=RB_OUT / "metrics" / "pe.csv",
        code=code("radbelt.figures", "core.plotting"),
    output:
        figure=report(
            RB_OUT / "figures" / "pe_vs_L.png",
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
        "python -m eoml radbelt figure pe --pe-csv {input.pe:q} --output {output.figure:q} > {log:q} 2>&1"


rule radbelt_figure_spearman:
    """L-averaged Spearman correlation of each input with the target versus lag."""
    input:
        table=RB_OUT / "metrics" / "spearman.csv",
        code=code("radbelt.figures", "core.plotting"),
    output:
        figure=report(
            RB_OUT / "figures" / "spearman_lags.png",
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
        "python -m eoml radbelt figure spearman --spearman-csv {input.table:q}"
        " --output {output.figure:q} > {log:q} 2>&1"
