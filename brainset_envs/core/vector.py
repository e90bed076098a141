"""One task core, two environments.

A task writes its dynamics once, as a :class:`TaskCore` whose methods act on a batch-first state (a dict
of numpy arrays with a leading env axis). :class:`TaskEnv` (the single ``gym.Env``) runs the core with a
batch of one; :class:`TaskVectorEnv` (the native ``VectorEnv`` registered as ``vector_entry_point``) runs
it with ``num_envs``. Both call the same functions, so they cannot drift apart; a core may add a
scalar fast path for the single env (:meth:`TaskCore.step_one`), which the conformance suite holds to
exactly the results of the batch path.

Randomness: every draw comes from the random streams passed in (:data:`Rng`), never from a global RNG.
By default a core draws from **per-env streams**: env ``i`` of a native vector env seeded with ``seed``
draws from its own ``Generator`` seeded with ``seed + i`` (gymnasium's convention for ``SyncVectorEnv``),
in the order a single env seeded with ``seed + i`` draws, so each env of the batch reproduces that
single env exactly, through episode ends and autoresets. A core that draws on every step of every env
pays one Python-level call per env and draw for that; where this costs more than 10% of the vector
throughput at 1024 envs it sets ``shared_stream = True`` instead (one stream for the whole batch,
drawn in batched calls): its vector env then matches single envs in distribution only. The measurements
are in ``scripts/bench_rng_streams.py`` and in each such core's docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from brainset_envs.core.params import check_options

if TYPE_CHECKING:
    from brainset_envs.core.canvas import Canvas

State = dict[str, np.ndarray]

#: What a core's ``reset`` and ``step`` receive as ``rng``: with ``shared_stream = True`` one
#: ``Generator`` for the whole batch; otherwise a sequence of ``Generator`` s, one per env of the batch
#: (index ``i`` is env ``i``'s stream; see :func:`brainset_envs.core.rand.per_env`).
Rng = np.random.Generator | Sequence[np.random.Generator]


class TaskCore:
    """Batch-first dynamics of one task. Subclasses set the spaces in ``__init__`` and implement the
    methods below; every method acts on all envs of the batch at once (or on the envs in ``mask``).

    ``observation_space`` and ``action_space`` describe a single env.

    Random streams: ``reset`` and ``step`` receive ``rng`` (:data:`Rng`). With ``shared_stream = False``
    (the default) it is a sequence of per-env Generators and env ``i`` must draw only from ``rng[i]``, in
    an order that does not depend on the other envs (e.g. with :func:`~brainset_envs.core.rand.per_env`);
    the vector env then equals ``num_envs`` single envs exactly. ``shared_stream = True`` names the
    exception: one Generator for the batch, drawn in batched calls (faster where every env draws on
    every step), at the price that env ``i`` of a vector env matches a single env only in distribution.
    A core may compute it per instance (a property), e.g. shared only in configurations that draw on
    every step.

    Scalar fast path: a core may define :meth:`step_one`; the single env then steps with it.
    """

    observation_space: spaces.Space
    action_space: spaces.Space
    #: one random stream for the whole batch (True) or one per env (False, the default); see above
    shared_stream: ClassVar[bool] = False
    #: keys of :meth:`info`, in order (fixed, so vector infos have a stable layout)
    info_keys: tuple[str, ...] = ()  # a core may set these two per instance
    render_size: tuple[int, int] = (256, 256)
    render_fps: ClassVar[int] = 10

    def new_state(self, n: int) -> State:
        """Allocate the state of ``n`` envs (values are set by :meth:`reset`)."""
        raise NotImplementedError

    def reset(self, state: State, mask: np.ndarray | None, rng: Rng) -> None:
        """Start a new episode in the envs where ``mask`` is true (all envs when ``mask`` is None)."""
        raise NotImplementedError

    def step(self, state: State, action: np.ndarray, rng: Rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance every env by one step in place; return (reward float32, terminated, truncated)."""
        raise NotImplementedError

    def step_one(
        self, state: State, action: Any, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Optional scalar fast path: :meth:`step` for a batch of one (``state`` of ``new_state(1)``),
        written on Python scalars for the single env, which uses it when a core defines it.

        ``action`` is one valid action of ``action_space`` (an ``int`` for ``Discrete``, an array of the
        space's shape, already clipped, for ``Box``); ``rng`` is that env's ``Generator`` (for a per-env
        or a shared stream alike). Returns what :meth:`step` returns with a batch of one. Contract,
        checked by the conformance suite for every core that defines it: from the same state and the
        same ``Generator`` state it leaves exactly the state, observation, info and ``Generator`` state
        that ``step(state, np.array([action]), rng)`` (``[rng]`` with per-env streams) leaves, and
        returns the same reward and flags, through episode ends.
        """
        raise NotImplementedError

    @classmethod
    def has_step_one(cls) -> bool:
        """Whether this core defines the scalar fast path :meth:`step_one`."""
        return cls.step_one is not TaskCore.step_one

    def observe(self, state: State) -> Any:
        """The batch of observations (leading env axis), inside ``batch_space(observation_space)``."""
        raise NotImplementedError

    def restart(self, state: State) -> None:
        """Called on a seeded reset, before :meth:`reset`: forget what carries over between episodes
        (e.g. a day counter), so a seeded reset starts the whole experiment afresh. Default: nothing."""

    def apply_options(self, state: State, options: dict[str, Any]) -> None:
        """Handle ``reset(options=...)`` (called before :meth:`reset`). Default: no options allowed."""
        raise ValueError(f"options has unknown key(s) {sorted(map(str, options))}: {type(self).__name__} takes "
                         "no reset options; pass None or {}")

    def info(self, state: State) -> dict[str, np.ndarray]:
        """Hidden variables of each env's trial, one array per key of :attr:`info_keys`. May return
        views of the state: the vector env copies them, the single env turns them into scalars."""
        return {}

    def draw(self, canvas: Any, state: State, i: int) -> None:
        """Draw env ``i`` on ``canvas.surface`` (a pygame surface of :attr:`render_size`; fonts from
        ``canvas.font(px)``). Rendering only: never changes the state or draws random numbers."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------------
# Input checks shared by both envs: clear errors that name the argument and what is allowed.


def check_action_batch(space: spaces.Space, actions: Any, n: int, name: str = "actions") -> np.ndarray:
    """Return ``actions`` as an array of ``n`` valid actions of ``space`` or raise ValueError."""
    try:
        a = np.asarray(actions)
    except (TypeError, ValueError) as err:  # ragged nesting: numpy cannot make one array of it
        raise ValueError(f"{name}={actions!r} is not valid: expected {n} action(s) of {space} ({err})") from None
    if isinstance(space, spaces.Discrete):
        if a.shape != (n,) or a.dtype.kind not in "iu":
            if a.shape == (n,) and a.dtype.kind == "f" and np.all(np.abs(a) < 2.0**62) and np.all(a == np.round(a)):
                a = a.astype(np.int64)
            else:
                raise ValueError(
                    f"{name}={actions!r} is not valid: expected {n} integer action(s) "
                    f"in [{space.start}, {space.start + space.n - 1}] (shape ({n},))"
                )
        lo, hi = a.min(), a.max()
        if lo < space.start or hi >= space.start + space.n:
            bad = a[(a < space.start) | (a >= space.start + space.n)][0]
            raise ValueError(
                f"{name} contains {bad!r}, outside the action space {space}: "
                f"allowed are the integers {space.start}..{space.start + space.n - 1}"
            )
        return a
    if isinstance(space, spaces.Box):
        try:
            with np.errstate(over="ignore"):  # a value beyond the dtype becomes inf: refused just below
                a = np.asarray(a, dtype=space.dtype)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={actions!r} is not valid: expected numbers for the action space "
                             f"{space}") from None
        want = (n, *space.shape)
        if a.shape != want:
            raise ValueError(f"{name} has shape {a.shape}, expected {want} for the action space {space}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}={actions!r} contains NaN or inf (as {space.dtype}); the action space is {space}")
        return np.clip(a, space.low, space.high)  # Box actions: clipping to bounds is documented per task
    raise TypeError(f"unsupported action space {space}")


def _start_episodes(core: TaskCore, state: State, seed: int | None, options: dict[str, Any] | None,
                    rng: Rng) -> None:
    """What both envs do on reset: a seeded reset restarts the experiment, options apply, all envs start."""
    check_options(options)
    if seed is not None:
        core.restart(state)
    if options:
        core.apply_options(state, options)
    core.reset(state, None, rng)


def _scalar_info(info: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k: v[0].item() for k, v in info.items()}


# ---------------------------------------------------------------------------------------------------


class TaskEnv(gym.Env):
    """A single environment over a :class:`TaskCore` (batch of one).

    Subclasses set ``core_class`` and pass their constructor arguments to it; see each task's docstring.
    """

    core_class: ClassVar[type[TaskCore]]
    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.core = make_core(self.core_class, kwargs, owner=_owner(type(self), "Env"), extra=("render_mode",))
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self.render_mode = render_mode
        self.state: State = self.core.new_state(1)
        self._needs_reset = True
        self._canvas: Canvas | None = None
        self._step_one = self.core.step_one if self.core.has_step_one() else None
        if isinstance(self.action_space, spaces.Discrete):
            self._n_actions = int(self.action_space.n)

    def _rng(self) -> Rng:
        """The env's stream as the core takes it (a batch of one)."""
        return self.np_random if self.core.shared_stream else (self.np_random,)

    # Observation of env 0 of the batch.
    def _obs(self) -> Any:
        obs = self.core.observe(self.state)
        if isinstance(obs, dict):
            return {k: v[0] for k, v in obs.items()}
        return obs[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        _start_episodes(self.core, self.state, seed, options, self._rng())
        self._needs_reset = False
        if self.render_mode == "human":
            self.render()
        return self._obs(), _scalar_info(self.core.info(self.state))

    def step(self, action: Any):
        if self._needs_reset:
            raise gym.error.ResetNeeded(
                "Cannot call step() before reset(): call env.reset() first (and again after an episode ends)"
            )
        if isinstance(self.action_space, spaces.Discrete):
            # Fast path: one int check instead of array machinery.
            try:
                a = int(action)
                ok = a == action and 0 <= a < self._n_actions
            except (TypeError, ValueError, OverflowError):  # None, strings, NaN, inf
                ok = False
            if not ok:
                raise ValueError(
                    f"action={action!r} is outside the action space {self.action_space}: "
                    f"allowed are the integers 0..{self._n_actions - 1}"
                )
            if self._step_one is not None:
                reward, terminated, truncated = self._step_one(self.state, a, self.np_random)
            else:
                reward, terminated, truncated = self.core.step(self.state, np.array((a,)), self._rng())
        else:
            act = check_action_batch(self.action_space, np.asarray(action)[None], 1, name="action")
            if self._step_one is not None:
                reward, terminated, truncated = self._step_one(self.state, act[0], self.np_random)
            else:
                reward, terminated, truncated = self.core.step(self.state, act, self._rng())
        term, trunc = bool(terminated[0]), bool(truncated[0])
        if term or trunc:
            self._needs_reset = True
        if self.render_mode == "human":
            self.render()
        return self._obs(), float(reward[0]), term, trunc, _scalar_info(self.core.info(self.state))

    def render(self):
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='rgb_array' or 'human' to gym.make"
            )
            return None
        if self._needs_reset and self._canvas is None and not hasattr(self, "_np_random"):
            raise gym.error.ResetNeeded("Cannot call render() before reset()")
        from brainset_envs.core.canvas import Canvas

        if self._canvas is None:
            self._canvas = Canvas(self.core.render_size, self.render_mode, self.metadata["render_fps"],
                                  title=type(self).__name__)
        self.core.draw(self._canvas, self.state, 0)
        return self._canvas.present()

    def close(self):
        if self._canvas is not None:
            self._canvas.close()
            self._canvas = None

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_canvas"] = None  # a pygame window cannot be pickled; a copy re-opens its own
        return d


class TaskVectorEnv(VectorEnv):
    """The native batched environment over a :class:`TaskCore` (``gym.make_vec(..., "vector_entry_point")``).

    Autoreset follows gymnasium's default NEXT_STEP mode: the step after an episode ends resets that env
    and returns its first observation with reward 0 and terminated = truncated = False. Info values are
    arrays over envs (with gymnasium's ``_key`` masks).

    Seeding: ``reset(seed=s)`` seeds env ``i`` with ``s + i`` (as ``SyncVectorEnv`` does); with per-env
    streams (the core's ``shared_stream`` false, the default) env ``i`` then is exactly a single env
    reset with ``seed=s + i`` and given the same actions, through episode ends and autoresets.
    ``reset()`` without a seed continues every stream.
    """

    core_class: ClassVar[type[TaskCore]]
    metadata: dict[str, Any] = {
        "render_modes": ["rgb_array"],
        "render_fps": 10,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, **kwargs: Any):
        if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r} must be a positive integer")
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.core = make_core(self.core_class, kwargs, owner=_owner(type(self), "VectorEnv"),
                              extra=("num_envs", "render_mode"))
        self.num_envs = int(num_envs)
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = render_mode
        self.state: State = self.core.new_state(self.num_envs)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._needs_reset = True
        self._canvas: Canvas | None = None
        self._ones = np.ones(self.num_envs, dtype=bool)
        self._streams: list[np.random.Generator] | None = None  # per-env streams (set on reset)
        # Draws of the step an autoreset discards go here, not to the resetting env's stream.
        self._scratch = np.random.Generator(np.random.PCG64(0))

    def _rng(self) -> Rng:
        return self.np_random if self.core.shared_stream else self._per_env_streams()

    def _per_env_streams(self) -> list[np.random.Generator]:
        assert self._streams is not None, "per-env streams are set by reset(), which step() requires first"
        return self._streams

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for k, v in self.core.info(self.state).items():
            info[k] = v.copy()
            info["_" + k] = self._ones
        return info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if not self.core.shared_stream and (seed is not None or self._streams is None):
            self._streams = [seeding.np_random(None if seed is None else seed + i)[0]
                             for i in range(self.num_envs)]
        _start_episodes(self.core, self.state, seed, options, self._rng())
        self._autoreset[:] = False
        self._needs_reset = False
        return self.core.observe(self.state), self._info()

    def step(self, actions: Any):
        if self._needs_reset:
            raise gym.error.ResetNeeded("Cannot call step() before reset(): call envs.reset() first")
        act = check_action_batch(self.single_action_space, actions, self.num_envs)
        done_before = self._autoreset
        any_done = done_before.any()
        rng = self._rng()
        if any_done and not self.core.shared_stream:  # the discarded step draws from the scratch stream
            step_rng: Rng = _SkipDone(self._per_env_streams(), done_before, self._scratch)
        else:
            step_rng = rng
        reward, terminated, truncated = self.core.step(self.state, act, step_rng)
        if any_done:
            self.core.reset(self.state, None if done_before.all() else done_before, rng)
            reward[done_before] = 0.0
            terminated[done_before] = False
            truncated[done_before] = False
        self._autoreset = terminated | truncated
        return self.core.observe(self.state), reward, terminated, truncated, self._info()

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        from brainset_envs.core.canvas import Canvas

        if self._canvas is None:
            self._canvas = Canvas(self.core.render_size, "rgb_array", self.metadata["render_fps"])
        frames = []
        for i in range(self.num_envs):
            self.core.draw(self._canvas, self.state, i)
            frames.append(self._canvas.present())
        return tuple(frames)

    def close_extras(self, **kwargs: Any) -> None:
        if self._canvas is not None:
            self._canvas.close()
            self._canvas = None


class _SkipDone(Sequence):
    """Per-env streams for a step in which the envs in ``done`` only autoreset: their draws (discarded
    with the step) come from ``scratch``, so their own streams stay where a single env's would be. Built
    in O(1); the per-env lookup happens only where a core draws."""

    __slots__ = ("_streams", "_done", "_scratch")

    def __init__(self, streams: Sequence[np.random.Generator], done: np.ndarray, scratch: np.random.Generator):
        self._streams, self._done, self._scratch = streams, done, scratch

    def __len__(self) -> int:
        return len(self._streams)

    def __getitem__(self, i):
        return self._scratch if self._done[i] else self._streams[i]


def check_render_mode(render_mode: str | None, allowed: list[str]) -> None:
    if render_mode is not None and (not isinstance(render_mode, str) or render_mode not in allowed):
        raise ValueError(f"render_mode={render_mode!r} is not supported; allowed: None or one of {allowed}")


def _owner(cls: type, suffix: str) -> str:
    """The task name of an env class in error messages: 'WaterMazeEnv' -> 'WaterMaze'."""
    name = cls.__name__
    return name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name


def make_core(core_class: type[TaskCore], kwargs: dict[str, Any], owner: str | None = None,
              extra: tuple[str, ...] = ()) -> TaskCore:
    """Build a core. An unknown argument name raises TypeError in Python's own wording ("X.__init__() got an
    unexpected keyword argument 'name'", which clients such as TorchRL's ``GymEnv`` recognise to drop
    optional arguments like ``frameskip``), followed by the allowed names (``extra``: the env's own ones)."""
    import inspect

    params = inspect.signature(core_class.__init__).parameters
    named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    allowed = [name for name, p in params.items() if name != "self" and p.kind in named]
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = [k for k in kwargs if k not in allowed]
        if unknown:
            others = f" (unknown too: {unknown[1:]})" if len(unknown) > 1 else ""
            raise TypeError(
                f"{owner or core_class.__name__}.__init__() got an unexpected keyword argument "
                f"{unknown[0]!r}{others}; allowed: {sorted(allowed + list(extra))}"
            )
    return core_class(**kwargs)
