"""Transfer learning for remote-sensing scene classification (Pires de Lima & Marfurt 2020).

Image-folder datasets (UC Merced, AID, PatternNet, EuroSAT, any class-folder tree) -> one scene
store per dataset -> classifiers built from ImageNet backbones cut at three depths and trained as
feature extractors, fine-tuned or from random weights -> accuracy tables, figures, Grad-CAM.
See docs/scenes.md.
"""
