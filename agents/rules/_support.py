"""Which modules a learning rule can train: one start-up check shared by every rule.

A rule that replaces the backward pass (feedback alignment, sign symmetry, DFA) or the credit
assignment (node perturbation, predictive coding) must know every module that owns a trainable weight
matrix. Modules it does not know fail here, before training, with a message naming the module.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

LINEAR: tuple[type[nn.Module], ...] = (nn.Linear,)
CONV: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
CELLS: tuple[type[nn.Module], ...] = (nn.RNNCell, nn.GRUCell, nn.LSTMCell)
SEQUENCE: tuple[type[nn.Module], ...] = (nn.RNN, nn.GRU, nn.LSTM)
# Layers whose backward pass needs no transport of a weight matrix (elementwise or lookup): every rule
# gives them their exact local gradient.
LOCAL: tuple[type[nn.Module], ...] = tuple(
    t for t in (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
                nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.Embedding,
                getattr(nn, "RMSNorm", None)) if t is not None
)


def base_type(m: nn.Module) -> type:
    """The torch layer class of ``m``, also for a layer a rule has already replaced."""
    return getattr(type(m), "_rule_base", type(m))


def trainable_direct(m: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """Trainable parameters owned by ``m`` itself (not by its children)."""
    return [(n, p) for n, p in m.named_parameters(recurse=False) if p.requires_grad]


def type_names(types: Iterable[type]) -> str:
    return ", ".join(t.__name__ for t in types)


def check_modules(
    model: nn.Module,
    rule: str,
    supported: tuple[type, ...],
    also: str = "",
    extra: Callable[[str, nn.Module], str | None] | None = None,
) -> None:
    """Raise ValueError if ``model`` holds a trainable module that ``rule`` cannot train.

    Allowed: modules of the ``supported`` types (``extra(name, module)`` may still veto one by returning
    a reason), normalisation layers and embeddings, and modules whose own trainable parameters are all
    vectors or scalars (biases, gains, a policy's log-std): those get their exact local gradient.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model={type(model).__name__} must be a torch.nn.Module")
    for name, m in model.named_modules():
        own = trainable_direct(m)
        if not own:
            continue
        t = base_type(m)
        where = f"module {name or '<root>'!r} (type {t.__name__})"
        if t in supported:
            reason = extra(name, m) if extra is not None else None
            if reason:
                raise ValueError(f"rule={rule!r} cannot train {where}: {reason}")
            continue
        if t in LOCAL or all(p.ndim <= 1 for _, p in own):
            continue
        big = next(n for n, p in own if p.ndim > 1)
        raise ValueError(
            f"rule={rule!r} cannot train {where}: it owns the trainable matrix {big!r} and this rule has "
            f"no replacement for its backward pass. Supported layers: {type_names(supported)}{also}; "
            "normalisation layers, embeddings and vector parameters get their exact local gradient. "
            "Freeze that module (requires_grad=False), rebuild it from supported layers, or use "
            "rule='backprop'."
        )


def recurrent_limits(name: str, m: nn.Module) -> str | None:
    """Reason a full-sequence nn.RNN/GRU/LSTM cannot be replaced, or None if it can."""
    if isinstance(m, SEQUENCE):
        if m.bidirectional:
            return "bidirectional recurrent layers are not supported (use two unidirectional ones)"
        if getattr(m, "proj_size", 0):
            return "LSTM with proj_size > 0 is not supported"
    return None


def flat_tensors(obj: object) -> list[torch.Tensor]:
    """Every tensor inside a (nested) tuple / list / dict, in a fixed order."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for k in obj for t in flat_tensors(obj[k])]
    if isinstance(obj, (tuple, list)):
        return [t for v in obj for t in flat_tensors(v)]
    return []


def map_tensors(obj: object, fn: Callable[[torch.Tensor], torch.Tensor]) -> object:
    """``obj`` with every floating tensor inside replaced by ``fn(tensor)`` (same nesting and types)."""
    if isinstance(obj, torch.Tensor):
        return fn(obj) if obj.is_floating_point() else obj
    if isinstance(obj, dict):
        return type(obj)((k, map_tensors(v, fn)) for k, v in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        namedtuple_type: Any = type(obj)
        return namedtuple_type(*(map_tensors(v, fn) for v in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(map_tensors(v, fn) for v in obj)
    return obj


def accumulate_grad(p: torch.Tensor, g: torch.Tensor) -> None:
    """Add ``g`` to ``p.grad`` as ``loss.backward()`` would (the trainer zeroes grads before a step)."""
    g = g.to(dtype=p.dtype).reshape(p.shape)
    if p.grad is None:
        p.grad = g.clone()
    else:
        p.grad.add_(g)


def rule_seed(seed: int, tag: str) -> int:
    """A generator seed derived from ``seed`` and the rule's name. Seeding a rule's generator with the
    user's seed itself would replay the stream that initialised the weights after ``torch.manual_seed(
    seed)``: random feedback would then equal the forward weights."""

    seq = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(tag.encode())])
    return int(seq.generate_state(1)[0])


def mark_prepared(model: nn.Module, rule: str) -> None:
    model._learning_rule = rule  # type: ignore[assignment]  # a plain marker; torch types Module attributes as Tensor | Module


def check_prepared(model: nn.Module, rule: str) -> None:
    """compute_grads on a model this rule has not prepared would silently do something else: refuse."""
    if getattr(model, "_learning_rule", None) != rule:
        raise RuntimeError(f"rule={rule!r}: call rule.prepare(model) once before compute_grads "
                           f"(this model was prepared for {getattr(model, '_learning_rule', None)!r})")


def linear_chain(model: nn.Module, rule: str, acts: tuple[type[nn.Module], ...], act_words: str, built: str,
                 net: str, output: str) -> list[tuple[str, nn.Module]]:
    """The (name, module) items of an ``nn.Sequential`` MLP that alternate Linear and one of ``acts`` and end
    with a Linear (a leading Flatten dropped), for rules that rebuild an MLP as another network; a
    ValueError naming the module, its position and what ``net`` needs there otherwise. ``built``: what the
    rule builds from the chain; ``act_words``: the nonlinearity in words; ``output``: what the output is."""
    check_modules(model, rule, LINEAR, also=f" ({built} is built from a chain of Linear layers)")
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"rule={rule!r} cannot train a model of type {type(model).__name__}: it needs an "
                         f"nn.Sequential MLP (Linear, {act_words}, ..., Linear) to make {built} of")
    items = list(model.named_children())
    if items and isinstance(items[0][1], nn.Flatten):
        items = items[1:]
    for i, (name, m) in enumerate(items):
        want_linear = i % 2 == 0
        if not isinstance(m, nn.Linear if want_linear else acts):
            need = "nn.Linear" if want_linear else f"{act_words} ({type_names(acts)})"
            raise ValueError(f"rule={rule!r} cannot train module {name!r} (type {type(m).__name__}) at position "
                             f"{i}: {net} needs {need} there (layers: Linear, nonlinearity, ..., Linear; an "
                             "optional leading Flatten)")
    if not items or not isinstance(items[-1][1], nn.Linear):
        raise ValueError(f"rule={rule!r}: the model must end with an nn.Linear output layer ({output})")
    return items
