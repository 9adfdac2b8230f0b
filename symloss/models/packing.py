"""Packing: K copies of one model as a single module, so K losses train in one pass.

A packed model takes the shared input batch and returns (B, K * classes) logits, member k
in columns k*C:(k+1)*C. Every layer keeps its members apart: a convolution has K times the
channels and K times the groups, batch norm K times the channels, and a linear layer one
weight block per member (one batched matmul). Every packed tensor (parameter, buffer,
optimiser state) holds its members as K equal row blocks along dim 0, so choosing members
is one indexing rule (`select_rows`) for all of them.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from ..errors import ConfigError

STATELESS = (nn.ReLU, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten, nn.Identity)


class PackedLinear(nn.Module):
    """K independent linear layers: input (B, K * in) -> output (B, K * out)."""

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        self.members, self.in_features, self.out_features = members, in_features, out_features
        self.weight = nn.Parameter(torch.empty(members * out_features, in_features))
        self.bias = nn.Parameter(torch.empty(members * out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, out = self.members, self.out_features
        x = x.reshape(x.shape[0], k, self.in_features).transpose(0, 1)  # (K, B, in)
        weight = self.weight.view(k, out, self.in_features).transpose(1, 2)  # (K, in, out)
        y = torch.baddbmm(self.bias.view(k, 1, out), x, weight)  # (K, B, out)
        return y.transpose(0, 1).reshape(-1, k * out)


def members_of(model: nn.Module) -> int:
    """How many members a (packed or plain) model holds."""
    return getattr(model, "packed_members", 1)


def select_rows(tensor: torch.Tensor, members: int, keep: Sequence[int]) -> torch.Tensor:
    """The row blocks `keep` (in that order, repeats allowed) of a tensor holding `members` blocks."""
    if tensor.dim() == 0:
        return tensor.clone()  # shared by all members (BatchNorm's batch count, the optimiser step)
    index = torch.as_tensor(list(keep), device=tensor.device)
    rows = tensor.shape[0] // members
    return tensor.reshape(members, -1).index_select(0, index).reshape(len(keep) * rows, *tensor.shape[1:])


def _regrouped_layer(layer: nn.Module, old: int, new: int) -> nn.Module:
    """An empty layer of the same kind with `new` members instead of `old`."""
    if isinstance(layer, nn.Conv2d):
        if layer.padding_mode != "zeros":
            raise ConfigError(f"cannot pack a convolution with padding_mode={layer.padding_mode!r}")
        return nn.Conv2d(layer.in_channels // old * new, layer.out_channels // old * new, layer.kernel_size,
                         layer.stride, layer.padding, layer.dilation, layer.groups // old * new,
                         layer.bias is not None)
    if isinstance(layer, nn.BatchNorm2d):
        return nn.BatchNorm2d(layer.num_features // old * new, layer.eps, layer.momentum, layer.affine,
                              layer.track_running_stats)
    if isinstance(layer, (nn.Linear, PackedLinear)):
        return PackedLinear(new, layer.in_features, layer.out_features)
    raise ConfigError(f"cannot pack a {type(layer).__name__} layer")


def regroup(model: nn.Module, keep: Sequence[int]) -> nn.Module:
    """A new packed model whose member j is member keep[j] of `model` (weights and statistics)."""
    # the structure is copied; the tensors are not, since every layer holding them is replaced
    originals = {id(tensor): tensor for tensor in (*model.parameters(), *model.buffers())}
    packed = copy.deepcopy(model, memo=originals)
    _regroup_children(packed, members_of(model), keep)
    packed.packed_members = len(keep)
    return packed


def _regroup_children(parent: nn.Module, old: int, keep: Sequence[int]) -> None:
    for name, child in parent.named_children():
        if isinstance(child, (nn.Conv2d, nn.BatchNorm2d, nn.Linear, PackedLinear)):
            with torch.device("meta"):  # no initialisation: the selected rows are assigned
                layer = _regrouped_layer(child, old, len(keep))
            state = {key: select_rows(value, old, keep) for key, value in child.state_dict().items()}
            layer.load_state_dict(state, assign=True)
            layer.train(child.training)
            setattr(parent, name, layer)
        elif isinstance(child, STATELESS):
            continue
        elif not list(child.children()):
            raise ConfigError(f"cannot pack a {type(child).__name__} layer")
        else:
            _regroup_children(child, old, keep)


def pack(model: nn.Module, members: int) -> nn.Module:
    """`members` copies of a plain model (each starts from its weights), as one packed model."""
    return regroup(model, [0] * members)


def regroup_optimizer_state(state: dict, members: int, keep: Sequence[int]) -> dict:
    """An optimiser's state_dict for the members `keep` (parameters in the same order; load it
    with `load_optimizer_state`)."""
    return {"state": {index: {name: select_rows(value, members, keep) if torch.is_tensor(value) else value
                              for name, value in per_parameter.items()}
                      for index, per_parameter in state["state"].items()},
            "param_groups": state["param_groups"]}


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a regrouped state, each tensor laid out like its parameter (channels-last stays
    channels-last, so the optimiser keeps its fused path)."""
    optimizer.load_state_dict(state)
    for parameter, per_parameter in optimizer.state.items():
        for name, value in per_parameter.items():
            if torch.is_tensor(value) and value.dim() > 0 and value.shape == parameter.shape:
                per_parameter[name] = torch.empty_like(parameter).copy_(value)


def member_logits(logits: torch.Tensor, members: int) -> torch.Tensor:
    """(B, K * C) packed logits -> (B, K, C): member k's logits are [:, k]."""
    return logits.view(logits.shape[0], members, -1)


def widen_input(images: torch.Tensor, members: int) -> torch.Tensor:
    """The shared batch as every member's input: (B, C, H, W) -> (B, K * C, H, W)."""
    return images if members == 1 else images.repeat(1, members, 1, 1)
