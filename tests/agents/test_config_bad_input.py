"""Property tests: every config field, overridden as `section.key=value` with a value outside what it
allows (wrong type, NaN, inf, negative, huge, empty), ends in a clear error naming the field.

The fields are read from the config dataclasses and their rules from ``agents.config.FIELDS`` (the
table the checks themselves read), so a new field is covered as soon as it exists.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.config import FIELDS, SECTIONS, Config, ConfigError, FieldSpec, apply_dict, parse_override, resolve_config
from agents.registry import OBJECTIVES, RULES

ALL_FIELDS = [f"{sec}.{f.name}" for sec, typ in SECTIONS.items() for f in dataclasses.fields(typ)]
CHECK = settings(derandomize=True, deadline=None, max_examples=40,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def test_the_table_covers_every_field_of_the_dataclasses():
    assert sorted(FIELDS) == sorted(ALL_FIELDS)
    cfg = Config()
    for name in ALL_FIELDS:  # the defaults are allowed, and every rule can say what it allows
        sec, key = name.split(".")
        assert FIELDS[name].problem(getattr(getattr(cfg, sec), key)) is None, name
        assert FIELDS[name].describe()


def bad_values(spec: FieldSpec) -> st.SearchStrategy:
    """Values the field must refuse, by its kind."""
    not_scalar = st.sampled_from([[1, 2], {"a": 1}, [], {}])
    if spec.kind in ("int", "float"):
        out = [not_scalar, st.sampled_from(["many", "", "nan?", "1,5", True, False]),
               st.sampled_from([math.nan, math.inf, -math.inf, ".nan", ".inf", "-.inf", "1e400"]),
               st.sampled_from([10**30, 1e300, -(10**30), -1e300])]
        if spec.lo is not None:
            lo = spec.lo
            out.append(st.one_of(st.integers(max_value=math.floor(lo) - 1),
                                 st.floats(max_value=lo, allow_nan=False, allow_infinity=False)
                                 .filter(lambda x: x < lo or (spec.lo_open and x == lo))))
        if spec.hi is not None:
            out.append(st.integers(min_value=math.floor(spec.hi) + 1))
        if spec.kind == "int":
            out.append(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not float(x).is_integer()))
        if not spec.none:
            out.append(st.none())
        return st.one_of(*out)
    if spec.kind == "bool":
        return st.one_of(st.sampled_from(["maybe", "", "2", 2, 0.5, math.nan, None]), not_scalar)
    if spec.kind == "str":
        out = [st.sampled_from([1, 2.5, math.nan, True, None, [], {}, ["a"]])]
        if not spec.empty:
            out.append(st.just(""))
        if spec.choices is not None or spec.check is not None:
            out.append(st.text(alphabet="xyzqQ_-", min_size=1, max_size=12).map(lambda s: "zz" + s))
        return st.one_of(*out)
    if spec.kind == "list":
        out = [st.sampled_from(["abc", 3, 2.5, {"a": 1}, True])]
        if not spec.empty:
            out.append(st.just([]))
        if spec.item is not None:
            out.append(bad_values(spec.item).filter(lambda v: v is not None and not isinstance(v, (list, dict)))
                       .map(lambda v: [v]))
        return st.one_of(*out)
    assert spec.kind == "mapping"
    return st.one_of(st.sampled_from(["abc", 3, 2.5, [1], True, math.nan]),
                     st.just({1: "x"}), st.just({"": 1}))


def _assert_refused(name: str, value) -> None:
    sec, key = name.split(".")
    with pytest.raises((ConfigError, ValueError, TypeError, KeyError)) as info:
        apply_dict(Config(), {sec: {key: value}})
    assert name in str(info.value), (name, value, str(info.value))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ALL_FIELDS)
@CHECK
@given(data=st.data())
def test_every_field_refuses_bad_values_by_name(name, data):
    value = data.draw(bad_values(FIELDS[name]), label=name)
    _assert_refused(name, value)


@pytest.mark.parametrize("name", ALL_FIELDS)
@settings(derandomize=True, deadline=None, max_examples=8)
@given(raw=st.sampled_from([".nan", ".inf", "-.inf", "-1", "1e400", "[]", "''", "{x: 1}", "[[1]]", "zzz"]))
def test_command_line_overrides_refuse_bad_values_by_name(name, raw):
    """The same through `section.key=value` (YAML) and resolve_config; values a field allows are skipped."""
    try:
        override = parse_override(f"{name}={raw}")
        cfg = Config()
        apply_dict(cfg, override)
    except (ValueError, TypeError, KeyError) as e:
        assert name in str(e), (name, raw, str(e))
        return
    # allowed for this field (e.g. '' for run.runs_dir, -1 for run.target_return): then it also resolves
    resolve_config("CartPole-v1", overrides=[override])


@pytest.mark.parametrize("text, field", [
    ("train.lr=nan", "train.lr"), ("train.lr=-1", "train.lr"), ("train.lr=0", "train.lr"),
    ("run.seed=-1", "run.seed"), ("train.total_steps=0", "train.total_steps"),
    ("env.num_envs=0", "env.num_envs"), ("env.id=Nope-v0", "env.id"), ("arch.name=transformer", "arch.name"),
    ("objective.spec=bogus", "objective.spec"), ("rule.name=bogus", "rule.name"), ("run.device=tpu", "run.device"),
    ("arch.channels=[16, 0, 8, 8]", "arch.channels"), ("arch.core=gru", "train.bptt_len"),
])
def test_resolve_config_names_the_field_and_what_is_allowed(text, field):
    overrides = [parse_override(text)]
    if text == "arch.core=gru":  # a cross-field check: bptt_len must divide num_steps
        overrides.append(parse_override("train.bptt_len=5"))
    with pytest.raises(ConfigError) as info:
        resolve_config("CartPole-v1", overrides=overrides)
    assert info.value.field == field and field in str(info.value)
    assert "allowed" in str(info.value) or "must" in str(info.value)


def test_choices_come_from_the_registries():
    from agents.objectives import available_objectives, register_objective
    from agents.objectives.reward import RewardObjective
    from agents.rules import available_rules, register_rule
    from agents.rules.base import Backprop

    message = str(pytest.raises(ConfigError, resolve_config, "CartPole-v1",
                                overrides=[parse_override("rule.name=bogus")]).value)
    assert all(r in message for r in available_rules())
    register_rule("bad_input_test_rule", Backprop)
    register_objective("bad_input_test_objective", RewardObjective)
    try:
        cfg = resolve_config("CartPole-v1", overrides=[parse_override("rule.name=bad_input_test_rule"),
                                                       parse_override("objective.spec=bad_input_test_objective")])
        assert cfg.rule.name == "bad_input_test_rule" and "bad_input_test_objective" in available_objectives()
    finally:  # leave the registries as found: other tests read them
        del RULES["bad_input_test_rule"], OBJECTIVES["bad_input_test_objective"]
