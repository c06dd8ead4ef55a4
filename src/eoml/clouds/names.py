"""The clouds study's figure names, without the figure code's imports: the workflow reads them
when it parses the rules (each ``snakemake`` start), :mod:`eoml.clouds.report` draws the figures.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PER_MODEL_KINDS", "classifier_figure_names", "figure_kind", "figure_names"]

#: figure kinds drawn once per model (or per triplet source, classifier job): the file-name prefixes
PER_MODEL_KINDS = ("triplets", "dendrogram", "pca", "pc_map", "unlabelled", "gradcam", "feature_maps")


def figure_names(sources: Sequence[str], models: Sequence[str]) -> list[str]:
    """The figures :func:`eoml.clouds.report.make_figures` draws for triplet ``sources`` and
    analysed ``models`` (``deepcluster`` and ``dcae`` add their own)."""
    names = [f"triplets_{s}" for s in sources]
    if models:
        names += ["training_distances",
                  *(f"{kind}_{m}" for m in models for kind in ("dendrogram", "pca", "pc_map", "unlabelled")),
                  "confusions", "nmi_vs_scale", "embeddings", "cloud_metrics"]
        names += ["deepcluster_confusion", "deepcluster_examples"] if "deepcluster" in models else []
        names += ["dcae_reconstructions"] if "dcae" in models else []
    return names


def classifier_figure_names(jobs: Sequence[str]) -> list[str]:
    """The figures of the classifier ``jobs`` (:func:`eoml.clouds.classifier.classifier_figures`)."""
    if not jobs:
        return []
    return ["classifier_confusion", "classifier_scores", *(f"gradcam_{j}" for j in jobs),
            *(f"feature_maps_{j}" for j in jobs)]


def figure_kind(name: str) -> str:
    """The kind of a figure (its caption file, ``report/clouds/<kind>.rst``): the per-model prefix
    (:data:`PER_MODEL_KINDS`) or the name itself."""
    for kind in sorted(PER_MODEL_KINDS, key=len, reverse=True):
        if name.startswith(f"{kind}_"):
            return kind
    return name
