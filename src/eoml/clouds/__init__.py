"""Trade-wind cloud organisation (Sugar, Gravel, Fish, Flower) from GOES-16 ABI and MODIS imagery.

GOES ABI L1b files and Kaggle "Understanding Clouds" image folders (or the generated demo) -> one
true-colour store per GOES scene and one image + label-mask store per Kaggle dataset -> Tile2Vec
triplets and models -> embeddings of labelled tiles at several tile sizes, Ward / k-means clusters,
NMI, PCA, principal-component maps, cloud metrics -> tables and figures. See docs/clouds.md.
"""
