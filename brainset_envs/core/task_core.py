"""One task core, two environments: the core's contract (:class:`TaskCore`) and what both envs share.

A task writes its dynamics once, as a :class:`TaskCore` whose methods act on a batch-first state (a dict
of numpy arrays with a leading env axis). :class:`~brainset_envs.core.single.TaskEnv` (the single
``gym.Env``) runs the core with a batch of one; :class:`~brainset_envs.core.vector.TaskVectorEnv` (the
native ``VectorEnv`` registered as ``vector_entry_point``) runs it with ``num_envs``. Both call the same
functions, so they cannot drift apart; a core may add a scalar fast path for the single env
(:meth:`TaskCore.step_one`), which the conformance suite holds to
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

import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from brainset_envs.core.params import check_options

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


def start_episodes(core: TaskCore, state: State, seed: int | None, options: dict[str, Any] | None,
                    rng: Rng) -> None:
    """What both envs do on reset: a seeded reset restarts the experiment, options apply, all envs start."""
    check_options(options)
    if seed is not None:
        core.restart(state)
    if options:
        core.apply_options(state, options)
    core.reset(state, None, rng)


def check_render_mode(render_mode: str | None, allowed: list[str]) -> None:
    if render_mode is not None and (not isinstance(render_mode, str) or render_mode not in allowed):
        raise ValueError(f"render_mode={render_mode!r} is not supported; allowed: None or one of {allowed}")


def task_name(cls: type, suffix: str) -> str:
    """The task name of an env class in error messages: 'WaterMazeEnv' -> 'WaterMaze'."""
    name = cls.__name__
    return name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name


def make_core(core_class: type[TaskCore], kwargs: dict[str, Any], owner: str | None = None,
              extra: tuple[str, ...] = ()) -> TaskCore:
    """Build a core. An unknown argument name raises TypeError in Python's own wording ("X.__init__() got an
    unexpected keyword argument 'name'", which clients such as TorchRL's ``GymEnv`` recognise to drop
    optional arguments like ``frameskip``), followed by the allowed names (``extra``: the env's own ones)."""
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
