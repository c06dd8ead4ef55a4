# eoml: one reproducible workflow from raw satellite and space-weather data to ML-ready Zarr
# stores, trained models, classical baselines, metric tables and paper figures.
#
#   snakemake --cores all                         # the studies selected in config/config.yaml
#   snakemake --cores all --configfile my.yaml    # your own data
#   snakemake --profile profiles/slurm            # on a SLURM cluster
#   snakemake --report report.html                # figures and tables with captions
from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/radbelt.smk"
include: "rules/lst.smk"
include: "rules/seaice.smk"


rule all:
    input:
        get_final_output(),
    default_target: True
