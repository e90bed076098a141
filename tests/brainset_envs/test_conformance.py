"""Registry-wide conformance: every registered BrainSet id, present and future, must pass these."""

import copy
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env, data_equivalence

import brainset_envs
from brainset_envs.core.vector import check_action_batch
from tests.brainset_envs.task_tables import TaskTables, collect, task_stem

IDS = brainset_envs.env_ids()
TABLES = collect()  # each task's CONFORMANCE, declared in tests/brainset_envs/tasks/test_<task>.py


def _tables(env_id: str) -> TaskTables:
    stem = task_stem(env_id)
    if stem not in TABLES:
        raise AssertionError(f"{env_id}: declare CONFORMANCE = TaskTables(task={stem!r}, ...) at the end of its "
                             "test file in tests/brainset_envs/tasks/ (see tests/brainset_envs/task_tables.py)")
    return TABLES[stem]


def test_registry_lists_every_task():
    assert len(IDS) >= 1
    assert all(i.startswith("BrainSet/") and i.endswith("-v0") for i in IDS)
    for env_id in IDS:
        assert _tables(env_id).bad_kwargs, f"{env_id}: its CONFORMANCE names no malformed-argument cases"


def test_make_with_module_prefix_in_fresh_interpreter():
    import subprocess
    import sys

    code = (
        "import gymnasium as gym\n"
        f"env = gym.make('brainset_envs:{IDS[0]}')\n"
        "obs, info = env.reset(seed=0)\n"
        "assert env.observation_space.contains(obs)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def _random_actions(space, n, seed):
    space = copy.deepcopy(space)
    space.seed(seed)
    return [space.sample() for _ in range(n)]


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_gymnasium(env_id):
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_sb3(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(env.unwrapped, warn=True)
    env.close()


def _rollout(env, seed, actions):
    """Run the actions through ``env`` with resets; return the list of transitions."""
    out = []
    obs, info = env.reset(seed=seed)
    out.append(("reset", obs, info))
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        assert env.observation_space.contains(obs), f"observation outside its space: {obs!r}"
        out.append((obs, r, term, trunc, info))
        if term or trunc:
            obs, info = env.reset()
            assert env.observation_space.contains(obs)
            out.append(("reset", obs, info))
    return out


@pytest.mark.parametrize("env_id", IDS)
def test_determinism_and_observations_in_space(env_id):
    env1, env2 = gym.make(env_id), gym.make(env_id)
    actions = _random_actions(env1.action_space, 200, seed=1)
    t1, t2 = _rollout(env1, 42, actions), _rollout(env2, 42, actions)
    assert data_equivalence(t1, t2), "same seed and actions gave different transitions"
    t3 = _rollout(gym.make(env_id), 43, actions)
    if _tables(env_id).seed_independent:
        assert data_equivalence(t1, t3)
    else:
        assert not data_equivalence(t1, t3), "different seeds gave identical episodes"


@pytest.mark.parametrize("env_id", IDS)
def test_reset_without_seed_continues_stream(env_id):
    env = gym.make(env_id)
    blind = _tables(env_id).blind_start  # the first observation tells nothing: compare the info too
    pick = (lambda r: r) if blind else (lambda r: r[0])
    first = pick(env.reset(seed=7))
    second = pick(env.reset())
    third = pick(env.reset(seed=7))
    assert data_equivalence(first, third)
    later = [pick(env.reset()) for _ in range(5)]
    if _tables(env_id).seed_independent:  # no randomness at all: every start is the same
        assert all(data_equivalence(first, o) for o in [second, *later])
    else:  # a continuing stream: the next episodes differ from the seeded one (over a few resets)
        assert any(not data_equivalence(first, o) for o in [second, *later])


@pytest.mark.parametrize("env_id", IDS)
def test_rendering(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frames = [env.render()]
    for a in _random_actions(env.action_space, 10, seed=0):
        _, _, term, trunc, _ = env.step(a)
        frames.append(env.render())
        if term or trunc:
            env.reset()
    shape = frames[0].shape
    for f in frames:
        assert f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3
        assert f.shape == shape
        assert f.std() > 1.0, "blank frame"
    env.close()
    env.close()
    human = gym.make(env_id, render_mode="human")
    human.reset(seed=0)
    human.step(human.action_space.sample())
    human.close()
    human.close()


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_copy_mid_episode_continues_identically(env_id, how):
    env = gym.make(env_id)
    env.reset(seed=3)
    actions = _random_actions(env.action_space, 40, seed=3)
    for a in actions[:5]:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    clone = pickle.loads(pickle.dumps(env)) if how == "pickle" else copy.deepcopy(env)

    def cont(e):
        res = []
        for a in actions[5:]:
            step = e.step(a)
            res.append(step)
            if step[2] or step[3]:
                res.append(e.reset())
        return res

    assert data_equivalence(cont(env), cont(clone))


@pytest.mark.parametrize("env_id", IDS)
def test_spec_round_trip_and_kwargs(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    spec = env.spec
    assert EnvSpec.from_json(spec.to_json()) == spec
    assert env.unwrapped.render_mode == "rgb_array"
    assert spec.kwargs["render_mode"] == "rgb_array"
    env2 = gym.make(spec)
    assert env2.unwrapped.render_mode == "rgb_array"


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("mode", ["sync", "async", "vector_entry_point"])
def test_vector_modes_run_with_autoreset(env_id, mode):
    kwargs = {"vector_kwargs": {"shared_memory": True}} if mode == "async" else {}
    envs = gym.make_vec(env_id, num_envs=3, vectorization_mode=mode, **kwargs)
    obs, info = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    envs.action_space.seed(0)
    ends, steps = 0, 0
    # At least 100 steps, and on until an episode has ended (tasks with long timeouts), at most 2000.
    while steps < 100 or (ends == 0 and steps < 2000):
        obs, r, term, trunc, info = envs.step(envs.action_space.sample())
        assert envs.observation_space.contains(obs)
        assert r.shape == (3,) and term.shape == (3,) and trunc.shape == (3,)
        ends += int(np.sum(term | trunc))
        steps += 1
    assert ends > 0, f"no episode ended in {steps} steps: autoreset untested"
    for _ in range(3):  # the steps right after the episode ends (the autoreset) still work
        assert envs.observation_space.contains(envs.step(envs.action_space.sample())[0])
    envs.close()


N_VEC = 5  # envs of the native vector env compared with as many single envs


def _short(env_id):
    return _tables(env_id).short_episodes


def _core(env_id, **kwargs):
    return gym.make(env_id, **kwargs).unwrapped.core


def _env_info(info, i):
    """Env ``i``'s info of a vector env, as the single env reports it (Python scalars, no masks)."""
    return {k: v[i].item() for k, v in info.items() if not k.startswith("_")}


@pytest.mark.parametrize("env_id", IDS)
def test_native_vector_env_matches_single_envs_exactly(env_id):
    """The promise of ``brainset_envs.core.task_core``: env ``i`` of a native vector env reset with ``seed``
    is a single env reset with ``seed + i`` and given the same actions: identical observations, rewards,
    flags and info, through several episode ends (the vector env's autoresets; the single env's resets)
    and an unseeded reset of both. Cores with a shared random stream (``shared_stream``, documented in
    the core) match in distribution only (the statistics test below); for them this compares one env up
    to the first episode end."""
    kwargs = _short(env_id)
    shared = _core(env_id, **kwargs).shared_stream
    n = 1 if shared else N_VEC
    vec = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
    singles = [gym.make(env_id, **kwargs) for _ in range(n)]
    space = copy.deepcopy(vec.action_space)
    space.seed(11)

    def reset_all(seed):
        obs, info = vec.reset(seed=seed)
        for i, env in enumerate(singles):
            o, inf = env.reset(seed=None if seed is None else seed + i)
            assert data_equivalence(o, _nth(obs, i)), f"env {i}: reset observation differs"
            assert data_equivalence(inf, _env_info(info, i)), f"env {i}: reset info differs"

    reset_all(11)
    ends, pending, steps = np.zeros(n, int), np.zeros(n, bool), 0
    while ends.min() < 3 and steps < 2000:
        actions = space.sample()
        obs, rew, term, trunc, info = vec.step(actions)
        steps += 1
        for i, env in enumerate(singles):
            if pending[i]:  # the vector env's autoreset step: the single env resets
                o, inf = env.reset()
                r, t, u = 0.0, False, False
            else:
                o, r, t, u, inf = env.step(_nth(actions, i))
            where = f"env {i}, step {steps}"
            assert data_equivalence(o, _nth(obs, i)), f"{where}: observation differs"
            assert r == float(rew[i]) and (t, u) == (bool(term[i]), bool(trunc[i])), f"{where}: reward/flags"
            assert data_equivalence(inf, _env_info(info, i)), f"{where}: info differs"
        pending = term | trunc
        ends += pending
        if shared and pending.any():
            return
    assert ends.min() >= 3, f"episode ends per env {ends.tolist()} in {steps} steps: shorten the episodes " \
        "in its CONFORMANCE.short_episodes"
    reset_all(None)  # unseeded resets continue every env's stream


def _step_one_cases():
    cases = []
    for env_id in IDS:
        if task_stem(env_id) not in TABLES:
            continue  # test_registry_lists_every_task says what is missing
        if not _core(env_id, **_short(env_id)).has_step_one():
            continue  # the single env runs the batch path itself: nothing to compare
        stem = task_stem(env_id)
        cases.append(pytest.param(env_id, {}, id=env_id))
        if env_id == f"BrainSet/{stem}-v0":  # each task's extra configurations, once
            cases += [pytest.param(env_id, kw, id=f"{env_id}-{j}")
                      for j, kw in enumerate(TABLES[stem].fast_path_variants)]
    return cases


@pytest.mark.parametrize(("env_id", "extra"), _step_one_cases())
def test_step_one_fast_path_equals_batch_path(env_id, extra):
    """For every core that defines the scalar fast path ``step_one``: from the same state and the same
    Generator state it gives exactly what the batch path gives with a batch of one (rewards, flags,
    observation, info, the whole state, and the Generator state after), through several episode ends."""
    core = _core(env_id, **{**_short(env_id), **extra})
    assert core.has_step_one()
    space = core.action_space
    gen_one = np.random.default_rng(3)
    as_rng = (lambda g: g) if core.shared_stream else (lambda g: [g])
    one = core.new_state(1)
    core.reset(one, None, as_rng(gen_one))
    batch, gen_batch = copy.deepcopy(one), copy.deepcopy(gen_one)
    ends = 0
    for step, a in enumerate(_random_actions(space, 600, seed=4)):
        act = check_action_batch(space, np.asarray(a)[None], 1)
        single = int(act[0]) if isinstance(space, gym.spaces.Discrete) else act[0]
        r1, t1, u1 = core.step_one(one, single, gen_one)
        r2, t2, u2 = core.step(batch, act, as_rng(gen_batch))
        where = f"step {step}"
        for x, y, what in ((r1, r2, "reward"), (t1, t2, "terminated"), (u1, u2, "truncated")):
            assert x.dtype == y.dtype and x.shape == y.shape == (1,) and x[0] == y[0], f"{where}: {what}"
        assert data_equivalence(core.observe(one), core.observe(batch)), f"{where}: observation"
        assert data_equivalence(core.info(one), core.info(batch)), f"{where}: info"
        for k in one:
            assert np.array_equal(one[k], batch[k]), f"{where}: state[{k!r}]"
        assert gen_one.bit_generator.state == gen_batch.bit_generator.state, f"{where}: Generator state"
        if t1[0] or u1[0]:
            ends += 1
            core.reset(one, None, as_rng(gen_one))
            core.reset(batch, None, as_rng(gen_batch))
            if ends >= 4:
                break
    assert ends >= 4, f"{ends} episode ends in 600 steps: shorten the episodes in its CONFORMANCE.short_episodes"


def _batch_of_one(obs):
    return {k: np.asarray(v)[None] for k, v in obs.items()} if isinstance(obs, dict) else np.asarray(obs)[None]


def _nth(batch, i):
    return {k: v[i] for k, v in batch.items()} if isinstance(batch, dict) else batch[i]


def _obs_means(obs, n):
    """Mean of each env's observation (all entries of all keys), for a batch of ``n``."""
    parts = obs.values() if isinstance(obs, dict) else [obs]
    return np.concatenate([np.asarray(p, np.float64).reshape(n, -1) for p in parts], axis=1).mean(axis=1)


@pytest.mark.parametrize("env_id", IDS)
def test_native_vector_env_statistics_match_single_env(env_id):
    """Episode return, episode length and the mean observation over an episode agree between the native
    vector env and the single env. The exact per-env comparison above covers the cores with per-env
    random streams; for the cores that share one stream across the batch (``shared_stream``) this
    agreement in distribution is the check. Episodes are independent (steps within one are not), so the
    comparison is per episode."""
    n_steps = 6000
    single = gym.make(env_id)
    single.action_space.seed(5)
    single.reset(seed=5)
    rets, lens, obs_means, ret, length, obs_sum = [], [], [], 0.0, 0, 0.0
    for _ in range(n_steps):
        obs, r, term, trunc, _ = single.step(single.action_space.sample())
        ret += r
        length += 1
        obs_sum += float(_obs_means(_batch_of_one(obs), 1)[0])
        if term or trunc:
            rets.append(ret)
            lens.append(length)
            obs_means.append(obs_sum / length)
            ret, length, obs_sum = 0.0, 0, 0.0
            single.reset()
    vec = gym.make_vec(env_id, num_envs=16, vectorization_mode="vector_entry_point")
    vec.reset(seed=6)
    vec.action_space.seed(6)
    vrets, vlens, vobs = [], [], []
    cur_r, cur_n, cur_o = np.zeros(16), np.zeros(16, int), np.zeros(16)
    just_reset = np.zeros(16, bool)
    for _ in range(n_steps // 16 + 1):
        obs, r, term, trunc, _ = vec.step(vec.action_space.sample())
        live = ~just_reset  # steps that only performed the autoreset are not env steps
        cur_r[live] += r[live]
        cur_n[live] += 1
        cur_o[live] += _obs_means(obs, 16)[live]
        done = (term | trunc) & live
        vrets.extend(cur_r[done].tolist())
        vlens.extend(cur_n[done].tolist())
        vobs.extend((cur_o[done] / cur_n[done]).tolist())
        cur_r[done], cur_n[done], cur_o[done] = 0.0, 0, 0.0
        just_reset = done
    assert len(rets) >= 5 and len(vrets) >= 5, "too few episodes to compare"
    for a, b, what in ((rets, vrets, "episode return"), (lens, vlens, "episode length"),
                       (obs_means, vobs, "mean observation")):
        a, b = np.asarray(a, float), np.asarray(b, float)
        se = np.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) <= 4 * se + 1e-9 * (1 + abs(a.mean())), (what, a.mean(), b.mean(), se)


@pytest.mark.parametrize("env_id", IDS)
def test_bad_input_raises_clear_errors(env_id):
    env = gym.make(env_id)
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step(env.action_space.sample())
    env.reset(seed=0)
    space = env.action_space
    bad_actions = [space.n + 3, -1, "left"] if isinstance(space, gym.spaces.Discrete) else \
        [np.full(space.shape, np.nan, dtype=np.float32), np.zeros(space.shape[0] + 1, np.float32)]
    for bad in bad_actions:
        with pytest.raises(ValueError, match="action"):
            env.unwrapped.step(bad)
    vec = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(gym.error.ResetNeeded):
        vec.step(vec.action_space.sample())
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="actions"):
        vec.step(np.asarray([bad_actions[0]] * 3))
    with pytest.raises(TypeError, match="not_an_option"):
        gym.make(env_id, not_an_option=1)
    with pytest.raises((TypeError, ValueError), match="render_mode"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gym.make warns about the unknown mode before the env raises
        gym.make(env_id, render_mode="hologram")
    for kwargs, word in _tables(env_id).bad_kwargs:
        with pytest.raises((TypeError, ValueError), match=word):
            gym.make(env_id, **kwargs)
