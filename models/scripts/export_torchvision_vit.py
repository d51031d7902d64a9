#!/usr/bin/env python3
"""Export a torchvision ViT with seeded random weights to ONNX, as users bring
their models to splitflare (torch.onnx.export, opset 14-17). No download.

    /usr/bin/python3 models/scripts/export_torchvision_vit.py --arch vit_b_16 -o scratch/vit_b_16.onnx
    npm run splitflare-models -- train-artifacts scratch/vit_b_16.onnx --cut embed -o scratch/vit_b_16

Needs torch and torchvision (Debian: python3-torch, python3-torchvision).
"""
import argparse
import os
import warnings

import torch
from torchvision.models import vision_transformer as tv

ARCHS = {"vit_b_16": tv.vit_b_16, "vit_b_32": tv.vit_b_32}


def build(a):
    torch.manual_seed(a.seed)
    if a.arch == "tiny":
        model = tv.VisionTransformer(
            image_size=a.image_size or 32, patch_size=a.patch, num_layers=a.layers, num_heads=a.heads,
            hidden_dim=a.hidden, mlp_dim=a.mlp, num_classes=a.classes or 10)
    else:
        model = ARCHS[a.arch](weights=None, num_classes=a.classes or 1000, image_size=a.image_size or 224)
    # torchvision zero-initialises the classifier (no gradient would reach the
    # blocks) and many norms and biases alike; the exporter merges initializers
    # with equal values, losing their names. A little noise avoids both.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * a.noise)
    return model.eval()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=[*ARCHS, "tiny"], default="vit_b_16")
    p.add_argument("-o", "--out", required=True, help="output .onnx file")
    p.add_argument("--classes", type=int, help="classifier size (default 1000; tiny: 10)")
    p.add_argument("--image-size", type=int, help="input side in pixels (default 224; tiny: 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.02, help="std of the noise added to every parameter")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--fold", action="store_true",
                   help="constant folding (off by default: it renames transposed weights onnx::MatMul_<n>)")
    g = p.add_argument_group("tiny sizes")
    g.add_argument("--patch", type=int, default=8)
    g.add_argument("--layers", type=int, default=2)
    g.add_argument("--heads", type=int, default=2)
    g.add_argument("--hidden", type=int, default=32)
    g.add_argument("--mlp", type=int, default=64)
    a = p.parse_args()

    model = build(a)
    # torchvision's shape asserts become constants in the trace; the batch axis stays dynamic regardless.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    side = model.image_size
    torch.onnx.export(
        model, torch.randn(1, 3, side, side), a.out, opset_version=a.opset, do_constant_folding=a.fold,
        input_names=["pixel_values"], output_names=["logits"],
        dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}})
    params = sum(t.numel() for t in model.parameters())
    print(f"{a.arch}: {params:,} parameters, {side}x{side} input, {model.heads[-1].out_features} classes, "
          f"opset {a.opset}")
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
