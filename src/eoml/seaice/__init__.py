"""seaice study: Sentinel-1 SAR ice/water segmentation, ImageNet-pretrained vs random init."""
