"""Layer configs, seeded gates and multi-layer routing."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from thunderline.routing import RouterConfig, RouterLayerConfig, init_gates, route, route_layers


def test_default_config_is_three_shrinking_layers():
    config = RouterConfig()
    assert config.d == 32
    assert [(x.n_experts, x.capacity_factor, x.p, x.max_experts) for x in config.layers] == [
        (16, 2.0, 0.65, None),
        (12, 1.8, 0.6, None),
        (8, 1.6, 0.55, None),
    ]
    assert len({x.name for x in config.layers}) == 3


@pytest.mark.parametrize(
    "field, value",
    [
        ("n_experts", 0),
        ("n_experts", True),
        ("n_experts", 2.0),
        ("capacity_factor", 0.0),
        ("capacity_factor", float("inf")),
        ("p", 0.0),
        ("p", 1.5),
        ("max_experts", 0),
        ("max_experts", False),
        ("name", "  "),
    ],
)
def test_bad_layer_config_fails_at_construction(field, value):
    fields = dict(name="layer", n_experts=4, capacity_factor=1.0, p=0.5)
    fields[field] = value
    with pytest.raises(ValidationError, match=f"{field}: must"):
        RouterLayerConfig(**fields)


def test_layer_config_accepts_numpy_ints_and_is_frozen():
    layer = RouterLayerConfig(name="x", n_experts=np.int64(4), capacity_factor=1, p=1, max_experts=np.int8(2))
    assert (layer.n_experts, layer.max_experts) == (4, 2)
    assert type(layer.n_experts) is int
    with pytest.raises(ValidationError):
        layer.p = 0.3


def test_router_config_rejects_empty_duplicate_names_and_bad_d():
    layer = RouterLayerConfig(name="a", n_experts=2, capacity_factor=1.0, p=0.5)
    with pytest.raises(ValidationError, match="at least one layer"):
        RouterConfig(layers=())
    with pytest.raises(ValidationError, match="unique"):
        RouterConfig(layers=(layer, layer))
    with pytest.raises(ValidationError, match="d"):
        RouterConfig(d=0)
    with pytest.raises(ValidationError):
        RouterConfig(layers=(layer,), extra=1)


def test_gates_are_seeded_and_shaped_per_layer():
    config = RouterConfig()
    gates = init_gates(config, seed=11)
    assert [g.shape for g in gates] == [(32, 16), (32, 12), (32, 8)]
    again = init_gates(config, seed=11)
    assert all(np.array_equal(a, b) for a, b in zip(gates, again))
    assert not np.array_equal(gates[0], init_gates(config, seed=12)[0])
    # a layer's gate depends on the seed, its position and its shape only
    middle = config.layers[1].model_copy(update={"n_experts": 5})
    changed = RouterConfig(layers=(config.layers[0], middle, config.layers[2]))
    other = init_gates(changed, seed=11)
    assert np.array_equal(other[0], gates[0]) and np.array_equal(other[2], gates[2])
    assert abs(np.concatenate([g.ravel() for g in gates]).std() * np.sqrt(32) - 1) < 0.1


@pytest.mark.parametrize("seed", [-1, 1.5, True, "1"])
def test_bad_seed_raises(seed):
    with pytest.raises(ValueError, match="seed"):
        init_gates(RouterConfig(), seed)


def test_route_layers_routes_each_layer_with_its_own_gate():
    config = RouterConfig(
        d=5,
        layers=(
            RouterLayerConfig(name="wide", n_experts=6, capacity_factor=2.0, p=0.65),
            RouterLayerConfig(name="narrow", n_experts=3, capacity_factor=1.2, p=0.5, max_experts=1),
        ),
    )
    gates = init_gates(config, seed=3)
    X = np.random.default_rng(0).standard_normal((50, 5))
    out = route_layers(X, gates, config)
    assert len(out) == 2
    for a, layer, gate in zip(out, config.layers, gates):
        expected = route(X, gate, layer.capacity_factor, layer.p, layer.max_experts)
        assert np.array_equal(a.weights, expected.weights)
        assert a.stats == expected.stats
        assert a.stats["n_experts"] == layer.n_experts
    assert out[1].stats["experts_per_token_hist"][2:] == [0, 0]


def test_route_layers_checks_gate_count_and_shapes():
    config = RouterConfig(d=4, layers=(RouterLayerConfig(name="only", n_experts=3, capacity_factor=1.0, p=0.5),))
    X = np.zeros((10, 4))
    with pytest.raises(ValueError, match="one per layer"):
        route_layers(X, [], config)
    with pytest.raises(ValueError, match="'only'"):
        route_layers(X, [np.zeros((4, 2))], config)
    with pytest.raises(ValueError, match="config.d"):
        route_layers(np.zeros((10, 3)), [np.zeros((3, 3))], config)
