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


# the studies are plug-ins (src/eoml/registry.py); a disabled study's rules are not even read
for _study in ENABLED:

    include: os.path.join("rules", f"{_study}.smk")


rule all:
    input:
        get_final_output(),
    default_target: True


# a run writes only under results/ and resources/: refuse any rule that would touch a user's file
check_output_roots(workflow.rules, WRITABLE_ROOTS)
