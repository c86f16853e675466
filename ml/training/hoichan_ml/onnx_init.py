"""Initialise a torch net from an exported ONNX file of the same architecture.

The exporter folds each BatchNorm into the convolution before it (weight W·γ/σ, bias
β − γμ/σ) and keeps the names only of convolutions that have their own bias. The folded
convolutions appear in the graph in the order the modules are defined, so they are matched in
that order (shapes checked). Each BatchNorm is then set so that eval mode reproduces the ONNX
output exactly while its running statistics are those of real inputs (re-estimated on a batch),
so training-mode batch statistics start close to what the folded model computed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn


def load_onnx_into(net: nn.Module, path: Path, prefix: str = "net.") -> int:
    g = onnx.load(str(path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    modules = dict(net.named_modules())
    folded = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d) and m.bias is None]
    it = iter(folded)
    done = 0
    with torch.no_grad():
        for node in (n for n in g.node if n.op_type == "Conv"):
            w, b = init[node.input[1]], init[node.input[2]]
            if node.input[1].startswith(prefix):  # a convolution with its own bias: names kept
                conv = modules[node.input[1][len(prefix):].rsplit(".", 1)[0]]
                conv.weight.copy_(torch.from_numpy(w))
                conv.bias.copy_(torch.from_numpy(b))
            else:
                name = next(it)
                conv = modules[name]
                bn = modules[name.rsplit(".", 1)[0] + "." + str(int(name.rsplit(".", 1)[1]) + 1)]
                assert isinstance(bn, nn.BatchNorm2d) and tuple(conv.weight.shape) == w.shape, name
                conv.weight.copy_(torch.from_numpy(w))
                bn.weight.fill_(1.0)
                bn.bias.copy_(torch.from_numpy(b))
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
            done += 1
    assert next(it, None) is None, "unmatched folded convolutions"
    return done


@torch.no_grad()
def reestimate_bn(net: nn.Module, forward, batch: torch.Tensor) -> None:
    """Keep eval-mode outputs identical, but give each BatchNorm the mean/var of its inputs."""
    stats: dict[nn.BatchNorm2d, tuple[torch.Tensor, torch.Tensor]] = {}
    hooks = [m.register_forward_hook(lambda m, i, o: stats.__setitem__(m, (i[0].mean((0, 2, 3)), i[0].var((0, 2, 3), unbiased=False))))
             for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    net.eval()
    forward(batch)
    for h in hooks:
        h.remove()
    for bn, (mu, var) in stats.items():
        # folded: y = x + b  ->  y = (x - mu) / sqrt(var + eps) * sqrt(var + eps) + mu + b
        b = bn.bias.clone()
        bn.running_mean.copy_(mu)
        bn.running_var.copy_(var)
        bn.weight.copy_(torch.sqrt(var + bn.eps))
        bn.bias.copy_(mu + b)


def parity(heat_fn, path: Path, x: np.ndarray, output: str = "heatmap") -> float:
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = sess.run([output], {"image": x})[0]
    with torch.no_grad():
        got = heat_fn(torch.from_numpy(x)).numpy()
    return float(np.abs(ref - got).max())
