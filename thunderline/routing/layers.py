"""Stacked router layers: each layer routes the same batch over its own pool of experts.

Why configs are validated at construction: a layer with p = 1.3 or no experts
must fail when the config is loaded, naming the layer, not halfway through a
backfill. Gates are derived from a seed so a replay rebuilds the same router.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from thunderline.routing.assignment import Assignment
from thunderline.routing.inputs import as_matrix, check_capacity_factor, check_max_experts, check_p
from thunderline.routing.router import route


def _positive_int(name: str, value) -> int:
    """An int >= 1; numpy integers are accepted, booleans are not."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
    return int(value)


class RouterLayerConfig(BaseModel):
    """One layer: its expert count e, capacity factor c, threshold p and optional cap m."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_experts: int
    capacity_factor: float
    p: float
    max_experts: int | None = None
    name: str

    @field_validator("n_experts", mode="before")
    @classmethod
    def _n_experts(cls, v):
        return _positive_int("n_experts", v)

    @field_validator("capacity_factor", mode="before")
    @classmethod
    def _capacity_factor(cls, v):
        return check_capacity_factor(v)

    @field_validator("p", mode="before")
    @classmethod
    def _p(cls, v):
        return check_p(v)

    @field_validator("max_experts", mode="before")
    @classmethod
    def _max_experts(cls, v):
        return check_max_experts(v)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("name: must not be blank")
        return v


def _default_layers() -> tuple[RouterLayerConfig, ...]:
    return (
        RouterLayerConfig(name="layer_0", n_experts=16, capacity_factor=2.0, p=0.65),
        RouterLayerConfig(name="layer_1", n_experts=12, capacity_factor=1.8, p=0.6),
        RouterLayerConfig(name="layer_2", n_experts=8, capacity_factor=1.6, p=0.55),
    )


class RouterConfig(BaseModel):
    """The layer stack and the embedding width d every layer's gate expects."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layers: tuple[RouterLayerConfig, ...] = _default_layers()
    d: int = 32

    @field_validator("d", mode="before")
    @classmethod
    def _d(cls, v):
        return _positive_int("d", v)

    @model_validator(mode="after")
    def _layers(self) -> RouterConfig:
        if not self.layers:
            raise ValueError("layers: a router needs at least one layer")
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"layers: names must be unique, repeated: {duplicates}")
        return self


def init_gates(config: RouterConfig, seed: int) -> list[np.ndarray]:
    """Gate matrices (d×e per layer) drawn N(0, 1/d), so logits start with unit variance.

    Each layer draws from its own child of SeedSequence(seed), so a layer's gate
    depends only on the seed, its position and its shape.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: must be an integer >= 0, got {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(len(config.layers))
    return [
        np.random.default_rng(child).standard_normal((config.d, layer.n_experts)) / math.sqrt(config.d)
        for child, layer in zip(children, config.layers)
    ]


def route_layers(X, gates: list[np.ndarray], config: RouterConfig) -> list[Assignment]:
    """Route the batch through every layer with that layer's gate; one Assignment per layer."""
    if len(gates) != len(config.layers):
        raise ValueError(f"gates: expected {len(config.layers)} (one per layer), got {len(gates)}")
    X = as_matrix("X", X)
    if X.shape[1] != config.d:
        raise ValueError(f"X: expected {config.d} columns (config.d), got shape {X.shape}")
    out = []
    for layer, gate in zip(config.layers, gates):
        gate = as_matrix(f"gate of layer {layer.name!r}", gate)
        if gate.shape != (config.d, layer.n_experts):
            raise ValueError(
                f"gate of layer {layer.name!r}: expected shape {(config.d, layer.n_experts)}, got {gate.shape}"
            )
        out.append(route(X, gate, layer.capacity_factor, layer.p, layer.max_experts))
    return out
