"""Keras 3 models (PyPI `keras`, backend torch) as ganforge networks, with no wrapper in user code.

With KERAS_BACKEND=torch a Keras model is an nn.Module, but not one that behaves like the others:
- it ignores nn.Module.train()/eval(): BatchNormalization and Dropout follow the `training` argument
  of each call, so `KerasNet` passes `training=self.training`;
- its non-trainable state (BatchNormalization's moving statistics, Dropout's int32 seed state) is
  held as torch Parameters with requires_grad=False: `KerasNet` registers those as buffers, so
  `parameters()` holds exactly the trainable weights (what optimisers, EMA averages and
  `requires_grad_` touch) and buffers the rest (copied by the EMA, saved in checkpoints);
- its state_dict keys are Keras's process-wide auto-generated paths (`sequential_3/dense_7/kernel`),
  which differ between two identical models built in one process: `KerasNet` names each variable
  by its position in `model.variables` (construction order, the same for the same architecture)
  and its own name: `v003_kernel`;
- a final `activation='sigmoid'` (on the output layer, or an `Activation('sigmoid')` layer) is a
  probability: `KerasNet(model, logits=True)` runs the output layer with its activation switched
  off for the call, so the discriminator's logits are exact (the user's model is unchanged
  outside the call);
- a model with two inputs (the functional API's `[z, y]`) takes the label as its second input,
  shaped and typed as that input declares ([N], [N, 1] or one-hot [N, C]).

Nothing here imports keras: a model is recognised by its class's module, so `import ganforge`
stays fast and Keras stays an optional extra (`pip install ganforge[keras]`).
"""
from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError

BACKEND_HINT = ("set the environment variable KERAS_BACKEND=torch before keras is imported (e.g. "
                "`KERAS_BACKEND=torch python train.py`, or os.environ['KERAS_BACKEND'] = 'torch' at the top "
                "of the script), then build the model again")


def is_keras(obj: Any) -> bool:
    """Whether obj is a Keras 3 model or layer (of any backend), without importing keras."""
    return any(c.__module__.split(".")[0] == "keras" for c in type(obj).__mro__)


def check_module(obj: Any, what: str) -> None:
    """obj must be an nn.Module; a Keras model of another backend gets the backend hint."""
    if isinstance(obj, nn.Module):
        return
    if is_keras(obj):
        import os

        backend = os.environ.get("KERAS_BACKEND", "unset (keras's default: tensorflow)")
        raise ConfigError(f"{what} is a Keras model of the {backend} backend, not a torch module: {BACKEND_HINT}")
    raise ConfigError(f"{what} must be a torch nn.Module (or a Keras 3 model with KERAS_BACKEND=torch), "
                      f"got {type(obj).__name__}")


def _is_sigmoid(fn: Any) -> bool:
    return getattr(fn, "__name__", "") == "sigmoid"


def output_layer(model: Any) -> Any:
    """The layer that makes the model's output (the last one, for Sequential and single-output models)."""
    layers = getattr(model, "layers", None)
    return layers[-1] if layers else None


def ends_in_sigmoid(model: Any) -> bool:
    """Whether the Keras model's output passes through a sigmoid (Dense(1, activation='sigmoid') or an
    Activation('sigmoid') layer)."""
    return _is_sigmoid(getattr(output_layer(model), "activation", None))


def _safe(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", name)


class KerasNet(nn.Module):
    """A Keras 3 model (torch backend) as a plain nn.Module: forward(x, y=None) -> output.

    logits=True: the output layer's sigmoid is skipped during the call (see the module docstring).
    """

    def __init__(self, model: nn.Module, logits: bool = False) -> None:
        super().__init__()
        object.__setattr__(self, "model", model)  # not a child module: its variables are registered below
        if not model.built or not model.variables:
            raise ConfigError(f"the Keras model {model.name!r} is not built (it has no weights yet): give its first "
                              f"layer an input shape (input_shape=... / input_dim=..., or start it with keras.Input)")
        self.names: list[str] = []
        for i, v in enumerate(model.variables):
            t = v.value
            name = f"v{i:03d}_{_safe(v.name)}"
            if not isinstance(t, torch.Tensor):
                raise ConfigError(f"the Keras model {model.name!r} holds non-torch weights: {BACKEND_HINT}")
            if v.trainable and t.is_floating_point():
                self._parameters[name] = t  # the very tensor Keras computes with
            else:
                self._buffers[name] = t
            self.names.append(name)
        inputs = getattr(model, "inputs", None) or []
        self.n_inputs = len(inputs) if isinstance(inputs, (list, tuple)) else 1
        if self.n_inputs > 2:
            raise ConfigError(f"the Keras model {model.name!r} has {self.n_inputs} inputs; ganforge passes one (z or x) "
                              f"or two ([z, y] / [x, y] for conditional models)")
        self.label_spec = self._label_spec(inputs[1]) if self.n_inputs == 2 else None
        self.logits = logits
        self.steps = direct_steps(model)
        if logits and not ends_in_sigmoid(model):
            raise ConfigError(f"the Keras model {model.name!r} does not end in a sigmoid")

    @property
    def takes_label(self) -> bool:
        return self.n_inputs == 2

    @staticmethod
    def _label_spec(tensor: Any) -> tuple[tuple[Any, ...], str]:
        return tuple(tensor.shape[1:]), str(tensor.dtype)

    def label_input(self, y: torch.Tensor) -> torch.Tensor:
        """Integer labels [N] -> the second input as the model declares it: [N], [N, 1], or one-hot [N, C]."""
        assert self.label_spec is not None
        shape, dtype = self.label_spec
        if len(shape) == 1 and shape[0] not in (None, 1):  # one-hot
            out = nn.functional.one_hot(y.long(), int(shape[0]))
        else:
            out = y.reshape(-1, *([1] * len(shape)))
        return out.to(torch.float32 if "float" in dtype else torch.int32)

    @property
    def input_shape(self) -> tuple[Any, ...] | None:
        shape = getattr(self.model, "input_shape", None)
        return tuple(shape) if isinstance(shape, tuple) else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        inputs: Any = [x, self.label_input(y)] if (self.takes_label and y is not None) else x
        if not self.logits:
            return self._call(inputs)
        layer = output_layer(self.model)
        activation = layer.activation
        layer.activation = _linear
        try:
            return self._call(inputs)
        finally:
            layer.activation = activation

    def _call(self, inputs: Any) -> torch.Tensor:
        """The model on inputs; a Sequential model of plain layers runs layer by layer through each layer's
        own `call` (Keras's math, exactly: the same outputs), skipping the per-call bookkeeping of
        Layer.__call__ and of the functional graph (about a fifth of a tutorial MLP's step time here)."""
        if self.steps is None:
            return self.model(inputs, training=self.training)
        for call, takes_training in self.steps:
            inputs = call(inputs, training=self.training) if takes_training else call(inputs)
        return inputs

    def _apply(self, fn: Any, recurse: bool = True) -> "KerasNet":
        """Device and dtype moves in place, for buffers too (nn.Module replaces buffer tensors, which would
        leave Keras computing with the old ones)."""
        buffers = dict(self._buffers)
        self._buffers.clear()
        try:
            super()._apply(fn, recurse)
            for t in buffers.values():
                t.data = fn(t.data)
        finally:
            self._buffers.update(buffers)
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> "KerasNet":
        """A copy computing with its own weights (the EMA copy): a deep copy of a Keras model gets new
        variables, so the copy registers those, not copies of this one's tensors."""
        import copy

        new = KerasNet(copy.deepcopy(self.model, memo), logits=self.logits)
        memo[id(self)] = new
        new.train(self.training)
        for a, b in zip(self.parameters(), new.parameters()):
            b.requires_grad_(a.requires_grad)
        return new

    def extra_repr(self) -> str:
        return f"keras model {self.model.name!r}, {len(self._parameters)} weights, {len(self._buffers)} states"


def direct_steps(model: Any) -> list[tuple[Any, bool]] | None:
    """[(layer.call, takes training)] for a built Sequential model whose layers are plain single-input
    layers (no masking, no nested models, float32 compute), else None (the model is called as a whole)."""
    import inspect

    if "Sequential" not in (c.__name__ for c in type(model).__mro__) or not model.layers:
        return None
    steps = []
    for layer in model.layers:
        if getattr(layer, "layers", None) or getattr(layer, "supports_masking", False) and \
                getattr(layer, "mask_zero", False) or getattr(layer, "compute_dtype", "float32") != "float32":
            return None
        params = inspect.signature(layer.call).parameters
        if any(p.kind == p.VAR_POSITIONAL for p in params.values()):
            return None
        steps.append((layer.call, "training" in params))
    return steps


def _linear(x: Any) -> Any:
    return x


def as_torch(net: Any, what: str, logits: bool = False) -> nn.Module:
    """A user's network as an nn.Module ganforge can drive: Keras models wrapped in KerasNet, torch
    modules as they are."""
    check_module(net, what)
    if isinstance(net, KerasNet) or not is_keras(net):
        return net
    return KerasNet(net, logits=logits)
