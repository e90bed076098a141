"""Bad input tried by a machine: property-based (hypothesis) tests over the whole BrainSet registry.

Every registered id is built with junk for each constructor argument (wrong types, NaN, inf, negative,
huge, tiny, empty sequences, unknown names), stepped with out-of-space actions and reset with junk
options. Each case must end either in success (observations inside the observation space, dtype
included, and finite rewards for a short episode) or in a ValueError/TypeError whose message names the
argument; never a hang, an exception from deep inside numpy, or a silent clamp.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import signal
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.envs.registration import load_env_creator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import brainset_envs

IDS = brainset_envs.env_ids()
SETTINGS = {"derandomize": True, "deadline": None, "suppress_health_check": list(HealthCheck)}
STEPS = 8  # steps of the short episode run on every env that was accepted
TIME_LIMIT_S = 20  # one case (build + episode) taking longer counts as a hang

NAN, INF = float("nan"), float("inf")
# Junk of every kind, tried on every argument (a deterministic sweep) and drawn by hypothesis.
JUNK = [
    None, True, False, 0, -1, 1, 3, 2**40, -(2**40), 0.0, -0.5, 0.5, 1e-300, -1e-300, 1e-45, 1e300, -1e300,
    1e39, NAN, INF, -INF, np.float32("nan"), np.int64(-3), np.float64(1e300), "", "x", "open", b"",
    [], (), {}, set(), [1, 2], [1.5, -2.0], [NAN], [1e300], [[1, 2]], ["N"], np.array([]), np.array([1.0, 2.0]),
    np.zeros((2, 2)), 1 + 2j, object(),
]
junk_values = st.one_of(
    st.sampled_from(JUNK),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.one_of(st.integers(-100, 100), st.floats()), max_size=3),
)


def core_params(env_id: str) -> list[str]:
    """Constructor arguments of an id's task (read from the registered entry point, not a fixed list)."""
    env_class = load_env_creator(gym.spec(env_id).entry_point)
    sig = inspect.signature(env_class.core_class.__init__)
    return [n for n, p in sig.parameters.items() if n != "self" and p.kind is not p.VAR_KEYWORD]


def task_name(env_id: str) -> str:
    return gym.spec(env_id).entry_point.split(":")[1].removesuffix("Env")


@contextlib.contextmanager
def time_limit(seconds: float, what: str):
    """Fail (instead of hanging) when the body takes longer than ``seconds``."""

    def _raise(*_):
        raise TimeoutError(f"{what} took more than {seconds} s (a hang?)")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def assert_in_space(obs, space: spaces.Space, what: str) -> None:
    """``obs`` in ``space`` with exactly its dtype (contains() alone lets some dtypes through)."""
    if isinstance(space, spaces.Dict):
        assert isinstance(obs, dict) and set(obs) == set(space.spaces), what
        for k, sub in space.spaces.items():
            assert_in_space(obs[k], sub, f"{what}[{k!r}]")
        return
    assert isinstance(obs, np.ndarray), f"{what}: observation is a {type(obs).__name__}, not an array"
    assert obs.dtype == space.dtype, f"{what}: observation dtype {obs.dtype}, space {space}"
    assert space.contains(obs), (
        f"{what}: observation outside {space} (min {np.min(obs)}, max {np.max(obs)}, "
        f"NaN {bool(np.isnan(obs).any()) if obs.dtype.kind == 'f' else False})")


def assert_clear_error(err: BaseException, names: list[str], what: str) -> None:
    """A ValueError/TypeError whose message names one of ``names``."""
    assert isinstance(err, (ValueError, TypeError)), f"{what}: {type(err).__name__}: {err}"
    msg = str(err)
    assert any(n in msg for n in names), f"{what}: the message does not name {names}: {type(err).__name__}: {msg}"


def run_short_episode(env, what: str, steps: int = STEPS) -> None:
    """Reset, then a few random steps: observations in the space, rewards finite float."""
    obs, _ = env.reset(seed=0)
    assert_in_space(obs, env.observation_space, f"{what}: reset")
    env.action_space.seed(0)
    for t in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert_in_space(obs, env.observation_space, f"{what}: step {t}")
        assert isinstance(reward, float) and math.isfinite(reward), f"{what}: step {t} reward {reward!r}"
        if terminated or truncated:
            obs, _ = env.reset()
            assert_in_space(obs, env.observation_space, f"{what}: reset after step {t}")


def run_vector(env_id: str, kwargs: dict, what: str) -> None:
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **kwargs)
    try:
        obs, _ = envs.reset(seed=0)
        assert_in_space(obs, envs.observation_space, f"{what} (vector): reset")
        envs.action_space.seed(0)
        for t in range(3):
            obs, reward, *_ = envs.step(envs.action_space.sample())
            assert_in_space(obs, envs.observation_space, f"{what} (vector): step {t}")
            assert reward.dtype == np.float32 and np.all(np.isfinite(reward)), f"{what} (vector): {reward!r}"
    finally:
        envs.close()


def make(env_id: str, kwargs: dict):
    """``gym.make(env_id, **kwargs)``; a non-string ``render_mode`` goes to the env class directly, since
    gymnasium's make itself calls ``render_mode.endswith`` on it (AttributeError before our code runs)."""
    if "render_mode" in kwargs and not isinstance(kwargs["render_mode"], str):
        spec = gym.spec(env_id)
        return load_env_creator(spec.entry_point)(**{**spec.kwargs, **kwargs})
    return gym.make(env_id, **kwargs)


def check_make(env_id: str, kwargs: dict, vector: bool = False) -> None:
    """Build ``env_id`` with ``kwargs``: a clear error naming an argument, or a well-behaved env."""
    what = f"gym.make({env_id!r}, **{kwargs!r})"
    with time_limit(TIME_LIMIT_S, what), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            env = make(env_id, kwargs)
        except Exception as err:  # noqa: BLE001 - the type is what is checked
            assert_clear_error(err, list(kwargs), what)
            if vector:  # the native vector env refuses the same arguments
                with pytest.raises((ValueError, TypeError)):
                    gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **kwargs)
            return
        try:
            run_short_episode(env, what)
            if vector:
                run_vector(env_id, kwargs, what)
        finally:
            env.close()


# --- constructor arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", IDS)
def test_every_argument_with_every_kind_of_junk(env_id):
    """A deterministic sweep: each constructor argument of the id gets each value of JUNK."""
    for name in [*core_params(env_id), "render_mode"]:
        for value in JUNK:
            check_make(env_id, {name: value})


@pytest.mark.parametrize("env_id", IDS)
@settings(max_examples=25, **SETTINGS)
@given(data=st.data())
def test_junk_arguments_drawn_by_hypothesis(env_id, data):
    """One to three arguments at once (so checks between arguments are tried too), any junk."""
    names = data.draw(st.lists(st.sampled_from(core_params(env_id)), min_size=1, max_size=3, unique=True))
    kwargs = {n: data.draw(junk_values, label=n) for n in names}
    check_make(env_id, kwargs, vector=True)


@pytest.mark.parametrize("env_id", IDS)
@settings(max_examples=5, **SETTINGS)
@given(key=st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True))
def test_unknown_argument_uses_pythons_wording(env_id, key):
    """Unknown names: TypeError in Python's own wording (TorchRL's GymEnv drops 'frameskip' on it)."""
    if key in core_params(env_id) or key in ("render_mode", *inspect.signature(gym.make).parameters):
        return  # a real argument, or one of gym.make's own
    for k in (key, "frameskip"):
        with pytest.raises(TypeError) as e:
            gym.make(env_id, **{k: 1})
        assert f"{task_name(env_id)}.__init__() got an unexpected keyword argument '{k}'" in str(e.value)
        assert "allowed" in str(e.value)
        with pytest.raises(TypeError, match=f"got an unexpected keyword argument '{k}'"):
            gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **{k: 1})


# --- actions -------------------------------------------------------------------------------------------


def bad_actions(space: spaces.Space) -> st.SearchStrategy:
    """Values outside a single env's action space."""
    common = [None, "0", b"", {}, [], NAN, INF, -INF, np.array([]), object()]
    if isinstance(space, spaces.Discrete):
        n = int(space.n)
        fixed = [n, n + 1, -1, 0.5, 1e300, -1e300, 2**70, np.int64(n), np.float32(1.5), np.array([0]),
                 np.array([0, 1]), np.array([[0]]), np.array(0.5), [0], (0,), 1 + 0j]
        return st.one_of(st.sampled_from(common + fixed), st.integers(n, 10**20), st.integers(-(10**20), -1),
                         st.floats().filter(lambda x: not (math.isfinite(x) and x == int(x) and 0 <= x < n)))
    low = float(np.min(space.low))
    fixed = [np.zeros(space.shape[0] + 1, space.dtype), np.zeros((1, *space.shape), space.dtype),
             np.full(space.shape, NAN, space.dtype), np.array(["a"] * space.shape[0]), low]
    return st.sampled_from(common + fixed)


def bad_action_batches(space: spaces.Space, n: int) -> st.SearchStrategy:
    good = 0 if isinstance(space, spaces.Discrete) else np.zeros(space.shape, space.dtype).tolist()
    single_bad = bad_actions(space)
    return st.one_of(
        single_bad,
        single_bad.map(lambda a: [good] * (n - 1) + [a]),
        st.sampled_from([[good] * (n + 1), [good] * (n - 1), [[good] * n], np.zeros((n, 3))]),
    )


def _inside_box(space: spaces.Box, action) -> bool:
    """Whether ``action`` is a valid action of ``space`` after all (a drawn "bad" value such as the lower
    bound may be one); strings and other non-numbers are not."""
    if np.shape(action) != space.shape:
        return False
    try:
        return bool(space.contains(np.asarray(action, space.dtype)))
    except (TypeError, ValueError):
        return False


@pytest.mark.parametrize("env_id", IDS)
@settings(max_examples=30, **SETTINGS)
@given(data=st.data())
def test_out_of_space_actions(env_id, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = gym.make(env_id)
        env.reset(seed=0)
        action = data.draw(bad_actions(env.action_space), label="action")
        if isinstance(env.action_space, spaces.Box) and _inside_box(env.action_space, action):
            return
        with time_limit(TIME_LIMIT_S, f"step({action!r})"):
            try:
                env.unwrapped.step(action)
            except Exception as err:  # noqa: BLE001
                assert_clear_error(err, ["action"], f"{env_id}: step({action!r})")
            else:
                raise AssertionError(f"{env_id}: step({action!r}) was accepted; the space is {env.action_space}")
        # the env is still usable after the refused action
        obs, reward, *_ = env.step(env.action_space.sample())
        assert_in_space(obs, env.observation_space, f"{env_id}: step after a refused action")


@pytest.mark.parametrize("env_id", IDS)
@settings(max_examples=15, **SETTINGS)
@given(data=st.data())
def test_out_of_space_vector_actions(env_id, data):
    n = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
        envs.reset(seed=0)
        actions = data.draw(bad_action_batches(envs.single_action_space, n), label="actions")
        with time_limit(TIME_LIMIT_S, f"vector step({actions!r})"):
            try:
                envs.step(actions)
            except Exception as err:  # noqa: BLE001
                assert_clear_error(err, ["action"], f"{env_id}: vector step({actions!r})")
            else:
                raise AssertionError(f"{env_id}: vector step({actions!r}) was accepted")


# --- reset options ---------------------------------------------------------------------------------------

junk_options = st.one_of(
    st.sampled_from([[], "", 0, 1, (), "day", ["day"], 1.5, NAN, True, set(), np.array([]), object()]),
    st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(["day", "trial", "probe", "start",
                                                                     "protocol", "reversal_day", "probe_days"])),
                    junk_values, min_size=1, max_size=3),
)


@pytest.mark.parametrize("env_id", IDS)
@settings(max_examples=20, **SETTINGS)
@given(options=junk_options)
def test_junk_reset_options(env_id, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = gym.make(env_id)
        env.reset(seed=0)
        what = f"{env_id}: reset(options={options!r})"
        with time_limit(TIME_LIMIT_S, what):
            try:
                obs, _ = env.reset(options=options)
            except Exception as err:  # noqa: BLE001
                assert_clear_error(err, ["options"], what)
                if not isinstance(options, dict):
                    assert isinstance(err, TypeError), what
                return
            assert isinstance(options, dict), f"{what} was accepted"
            assert_in_space(obs, env.observation_space, what)
            for _ in range(3):
                obs, reward, *_ = env.step(env.action_space.sample())
                assert_in_space(obs, env.observation_space, what)
                assert math.isfinite(reward)


@pytest.mark.parametrize("env_id", IDS)
def test_none_and_empty_options_are_no_options(env_id):
    env = gym.make(env_id)
    a, _ = env.reset(seed=3, options=None)
    b, _ = env.reset(seed=3, options={})
    if isinstance(a, dict):
        assert all(np.array_equal(a[k], b[k]) for k in a)
    else:
        assert np.array_equal(a, b)
    for junk in ([], "", 0):
        with pytest.raises(TypeError, match="options"):
            env.reset(options=junk)
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    envs.reset(seed=0, options={})
    for junk in ([], "", 0):
        with pytest.raises(TypeError, match="options"):
            envs.reset(options=junk)
    with pytest.raises(ValueError, match="options"):
        envs.reset(options={"not_an_option": 1})


def test_box_actions_out_of_space():
    """The Box action path with hand-picked values: the continuous water maze, single and vector (the BCI
    ids have Box actions too and go through the registry-wide tests above)."""
    env = gym.make("BrainSet/WaterMaze-v0", action_type="continuous").unwrapped
    env.reset(seed=0)
    for bad in (None, "x", [1.0, 2.0, 3.0], [[0.0, 0.0]], 0.5, [NAN, 0.0], [INF, 0.0], [1e300, 0.0], {}, object()):
        with pytest.raises(ValueError, match="action"):
            env.step(bad)
    envs = gym.make_vec("BrainSet/WaterMaze-v0", num_envs=2, vectorization_mode="vector_entry_point",
                        action_type="continuous")
    envs.reset(seed=0)
    for bad in (None, [[0, 0], [0]], np.zeros((2, 3)), [[NAN, 0], [0, 0]], [["a", "b"], ["c", "d"]]):
        with pytest.raises(ValueError, match="actions"):
            envs.step(bad)


# --- the reproductions from the issue, one by one ------------------------------------------------------

KNOWN = [
    ("BrainSet/ForagingArena-v0", {"food_max": 1e300}, "food_max"),
    ("BrainSet/ForagingArena-v0", {"energy_per_food": 1e300}, "energy_per_food"),
    ("BrainSet/ForagingArena-v0", {"food_max": 1e-300}, "food_max"),
    ("BrainSet/ForagingArena-v0", {"size": 1}, "size"),
    ("BrainSet/OrientationDiscrimination-v0", {"reward_correct": 1e300}, "reward_correct"),
    ("BrainSet/OrientationDiscrimination-v0", {"reward_wrong": 1e300}, "reward_wrong"),
    ("BrainSet/OrientationDiscrimination-v0", {"reward_abstain": -1e39}, "reward_abstain"),
    ("BrainSet/WaterMaze-v0", {"step_reward": 1e300}, "step_reward"),
    ("BrainSet/WaterMaze-v0", {"reward_platform": -1e300}, "reward_platform"),
    ("BrainSet/WaterMaze-v0", {"place_cell_width": 1e-45}, "place_cell_width"),
    ("BrainSet/WaterMaze-v0", {"place_cell_width": 1e-300}, "place_cell_width"),
    ("BrainSet/WaterMaze-v0", {"pool_radius": 5.0}, "pool_radius"),
    ("BrainSet/WaterMaze-v0", {"pool_radius": 1e-300}, "pool_radius"),
    ("BrainSet/EmpowermentGrid-v0", {"goal": [0, 0], "goal_reward": 1e300}, "goal_reward"),
    ("BrainSet/EmpowermentGrid-v0", {"tv_cell": "junk"}, "tv_cell"),
    ("BrainSet/EmpowermentGrid-v0", {"noisy_tv": "action", "tv_cell": [99, 0]}, "tv_cell"),
    ("BrainSet/PatchForaging-v0", {"reward_floor": 1e6}, "reward_floor"),
    ("BrainSet/PatchForaging-v0", {"reward_floor": 7.0}, "reward_floor"),
    ("BrainSet/PatchForaging-v0", {"richness_max": 3.0}, "richness_max"),
    ("BrainSet/PatchForaging-v0", {"harvest_time": 1e-300}, "harvest_time"),
    # arguments whose tables or observations would not fit in memory (a MemoryError after a minute before)
    ("BrainSet/ForagingArena-v0", {"size": 256, "view_size": 63}, "view_size"),
    ("BrainSet/EmpowermentGrid-v0", {"size": 256, "observation": "view", "view_size": 63}, "view_size"),
    ("BrainSet/EmpowermentGrid-v0", {"size": 256, "observation": "pixels", "pixels_per_cell": 64}, "pixels_per_cell"),
    ("BrainSet/EmpowermentGrid-v0", {"noise": 0.5, "empowerment_n": 12}, "empowerment_n"),
]


@pytest.mark.parametrize(("env_id", "kwargs", "word"), KNOWN)
def test_known_reproductions_are_refused_at_construction(env_id, kwargs, word):
    with pytest.raises(ValueError, match=word):
        gym.make(env_id, **kwargs)
    with pytest.raises(ValueError, match=word):
        gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **kwargs)


def test_values_at_the_new_bounds_still_work():
    """The bounds refuse only what cannot work: values near them build, run and render."""
    check_make("BrainSet/WaterMaze-v0", {"place_cell_width": 0.001})
    check_make("BrainSet/WaterMaze-v0", {"pool_radius": 20.0})
    check_make("BrainSet/OrientationDiscrimination-v0", {"reward_correct": 3e38, "reward_wrong": -3e38})
    check_make("BrainSet/ForagingArena-v0", {"food_max": 1e30, "energy_per_food": 1e-31})
    env = gym.make("BrainSet/PatchForaging-v0", reward_floor=6.0, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(0)
    assert env.render().ndim == 3
    env.close()
