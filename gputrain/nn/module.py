"""``Parameter`` and ``Module``: the container every layer and model builds on.

A module's parameters and sub-modules are simply its attributes (in assignment order);
``named_parameters()`` walks them recursively with dotted names (``"0.weight"``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy

from gputrain.autograd.tensor import Tensor
from gputrain.backend import CPU, Device, device_of, resolve_device, to_cpu, to_device
from gputrain.errors import GputrainError


class Parameter(Tensor):
    """A trainable tensor: ``requires_grad`` is always on; the optimizer reads ``.data``
    and ``.grad`` (a dense array, or a ``SparseGrad`` for an embedding table)."""

    def __init__(self, data, name: str | None = None):
        super().__init__(data, requires_grad=True, name=name)

    def __repr__(self):
        return f"Parameter(shape={tuple(self.shape)}, dtype={self.dtype})"


def as_device(device) -> Device:
    if device is None:
        return CPU
    return device if isinstance(device, Device) else resolve_device(str(device))


class Module:
    """Base class: subclasses set parameters / sub-modules as attributes and define
    ``forward``; calling the module calls ``forward``."""

    training: bool = True

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __repr__(self):
        return f"{type(self).__name__}()"

    # -- structure ----------------------------------------------------------------------
    def children(self) -> Iterator[Module]:
        for value in vars(self).values():
            if isinstance(value, Module):
                yield value

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def modules(self) -> Iterator[Module]:
        yield self
        for child in self.children():
            yield from child.modules()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) in attribute order; a parameter shared by several
        modules (tied weights) is listed once, under its first name."""
        seen: set[int] = set()
        for name, p in self._all_parameters(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _all_parameters(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value._all_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # -- mode ---------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- devices and state ----------------------------------------------------------------
    def to(self, device) -> Module:
        """Move every parameter to ``device`` (a Device or "cpu"/"gpu"/"gpu:N")."""
        device = as_device(device)
        for m in self.modules():
            m._to_device(device)
            for value in vars(m).values():
                if isinstance(value, Parameter):
                    value.data = to_device(value.data, device)
                    if value.grad is not None and not hasattr(value.grad, "rows"):
                        value.grad = to_device(value.grad, device)
        return self

    def _to_device(self, device: Device) -> None:
        """Hook for modules that hold device state besides parameters (e.g. an rng)."""

    def state_dict(self) -> dict[str, numpy.ndarray]:
        """``{name: NumPy array}`` (copies, on the CPU) of every parameter."""
        return {name: numpy.array(to_cpu(p.data)) for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the parameters (kept on their device and dtype).

        Raises :class:`GputrainError` naming every missing or unexpected key, or the first
        parameter whose shape differs; nothing is changed in that case.
        """
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected {', '.join(unexpected)}")
            raise GputrainError(f"state dict does not match the model: {'; '.join(parts)}")
        for name, p in own.items():
            shape = tuple(numpy.shape(state[name]))
            if shape != tuple(p.shape):
                raise GputrainError(
                    f"state dict entry {name!r} has shape {shape}, the model expects "
                    f"{tuple(p.shape)}")
        for name, p in own.items():
            host = numpy.array(to_cpu(state[name]), dtype=p.dtype)  # a copy: no aliasing
            p.data = to_device(host, device_of(p.data))
            p.grad = None


class Sequential(Module):
    """Modules applied one after another; parameters are named ``"<index>.<name>"``."""

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential item {i} is not a Module: {layer!r}")
            setattr(self, str(i), layer)

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def __len__(self) -> int:
        return sum(1 for _ in self.children())

    def __getitem__(self, index: int) -> Module:
        return list(self.children())[index]

    def forward(self, x):
        return self._run(x, list(self.children()))

    def head_input(self, x):
        """What the last layer receives: every layer before it, run as ``forward`` runs
        them (a trainer may run the last one fused with its loss)."""
        return self._run(x, list(self.children())[:-1])

    @staticmethod
    def _run(x, layers: list[Module]):
        i = 0
        while i < len(layers):
            # a layer may run itself and the next one as one fused op (Linear + ReLU)
            fused = getattr(layers[i], "forward_fused", None)
            y = fused(x, layers[i + 1]) if fused and i + 1 < len(layers) else None
            if y is not None:
                x, i = y, i + 2
            else:
                x, i = layers[i](x), i + 1
        return x

    def __repr__(self):
        inner = "".join(f"\n  ({name}): {layer!r}" for name, layer in self.named_children())
        return f"Sequential({inner}\n)"
