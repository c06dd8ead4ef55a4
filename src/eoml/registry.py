"""The studies of the eoml workflow: one line per study.

A study is a room: its package ``src/eoml/<study>/`` (with ``schema.yaml``, ``cli.py`` and, when
it has semantic config checks, ``config.py``), its rules ``rules/<study>.smk``, its tests
``tests/<study>/``, its report captions ``report/<study>/`` and its documentation
``docs/<study>.md``. Adding a study means creating its room and adding one line here: core finds
everything else from this table (see :mod:`eoml.core.studies`).
"""

#: study name -> (its package, one line saying what it does)
STUDIES = {
    "radbelt": ("eoml.radbelt", "radiation-belt MeV electron forecasting (PreMevE 2.0)"),
    "lst": ("eoml.lst", "MODIS LST super-resolution (MRUNet vs classical sharpeners)"),
    "seaice": ("eoml.seaice", "Sentinel-1 SAR ice/water segmentation (ImageNet vs random init)"),
    "scenes": ("eoml.scenes", "remote-sensing scene classification by transfer learning (cut backbones)"),
    "clouds": ("eoml.clouds", "trade-wind cloud organisation: Tile2Vec embeddings, clusters, NMI across scales"),
    "aot": ("eoml.aot", "forecasting high aerosol optical thickness from MODIS 8-day sequences (3-D CNNs, ConvLSTMs)"),
}
