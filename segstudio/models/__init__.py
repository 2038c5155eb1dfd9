"""Segmentation models (torch/torchvision only, never Qt)."""
