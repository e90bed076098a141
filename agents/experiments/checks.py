"""The registry of learned figures the test suite asserts, each as ``measure(seed, num_threads) -> figures``.

A test that asserts a learned quantity calls the check's ``measure`` for the check's ``test_seeds`` and
asserts ``limits`` on the mean, so the test and the robustness audit
(:mod:`agents.experiments.robustness`) measure the same thing and read the same thresholds. Small checks
whose measurement is the test itself (``measure=None``, made by :func:`by_test`) take the audit's seed
and thread count from the ``audit`` fixture of ``tests/conftest.py`` and hand it their figures; the audit
runs their tests with ``BRAINSET_AUDIT_SEED`` / ``BRAINSET_AUDIT_THREADS`` / ``BRAINSET_AUDIT_OUT`` set. A threshold
is set below the worst tested value seen over 8 seeds and the code paths of
:data:`agents.experiments.robustness.CODE_PATHS`, with a margin (the audit's table is in
``assets/robustness.md``).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from agents.build import build_components
from agents.classic.curiosity import ExploreConfig, explore
from agents.config import parse_override, resolve_config
from agents.experiments import learning_report as lr
from agents.experiments.fig4 import Fig4Protocol, run_seed
from agents.experiments.intrinsic import train_and_record
from agents.experiments.intrinsic_report import AGENTS, EMPOWERMENT, TABULAR, config, explore_config
from agents.experiments.learning_report import CHECKS as LEARNING
from agents.objectives.empowerment import EmpowermentObjective
from agents.probes.intrinsic import empowerment_comparison, late_occupancy
from agents.rules import RULES, rule_class
from agents.trainer import make_vec_env, seed_everything, set_threads, train
from brainset_envs.analysis.empowerment import exploration_metrics, run_reference_policy

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True)
class Limit:
    """``figure <op> threshold``."""

    op: str
    threshold: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"Limit op={self.op!r}; allowed: {sorted(_OPS)}")

    @property
    def higher(self) -> bool:
        return self.op in (">", ">=")

    def holds(self, value: float) -> bool:
        return bool(_OPS[self.op](value, self.threshold))


@dataclass(frozen=True)
class Check:
    """One learned measurement: ``measure(seed, num_threads)`` returns named figures; the test asserts
    ``limits`` on their mean over ``test_seeds``."""

    name: str
    test: str
    measure: Callable[[int, int], dict[str, float]] | None
    limits: dict[str, Limit]
    test_seeds: tuple[int, ...] = (0,)
    note: str = ""

    def tested(self, num_threads: int = 1) -> dict[str, float]:
        """The figures as the test sees them: measured at each test seed, averaged."""
        if self.measure is None:
            raise ValueError(f"check {self.name!r} is measured by its test ({self.test}), not by a function")
        measure = self.measure
        runs = [measure(s, num_threads) for s in self.test_seeds]
        return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}

    def failures(self, figures: dict[str, float]) -> list[str]:
        """The limits ``figures`` break, as readable strings (empty: all hold)."""
        return [f"{k} = {figures[k]:.4g}, expected {lim.op} {lim.threshold:g}"
                for k, lim in self.limits.items() if not lim.holds(figures[k])]


def by_test(name: str, test: str, limits: dict[str, Limit], note: str = "") -> Check:
    """A check measured by its test: the test asks the ``audit`` fixture for its seed and passes its
    figures to ``audit.check(name, figures)``, which records them for the audit and asserts ``limits``."""
    return Check(name, test, None, limits, note=note)


# --- measurements ------------------------------------------------------------------------------------------


@functools.cache
def random_walk_coverage() -> float:
    """Mean coverage of 200 random walkers, 3000 steps from (1, 1) of the 21 x 21 four rooms (0.669)."""

    walks = run_reference_policy("four_rooms_21", "random", 3000, (1, 1), n_walkers=200, rng=0)
    return float(np.mean([exploration_metrics(t, "four_rooms_21")["coverage"] for t in walks]))


def ppo_curiosity_coverage(seed: int, num_threads: int = 1) -> dict[str, float]:
    """4 walkers sharing one PPO curiosity network, 3000 steps each in the 21 x 21 four rooms, no reward."""

    agent = [*AGENTS["PPO curiosity (prediction error)"], f"run.num_threads={num_threads}"]
    _, rec = train_and_record(explore_config(agent, seed))
    cov = float(np.mean([exploration_metrics(t, "four_rooms_21")["coverage"] for t in rec.trajectories()]))
    return {"coverage": cov, "ratio_to_random_walk": cov / random_walk_coverage()}


def tabular_curiosity_coverage(seed: int, num_threads: int = 1) -> dict[str, float]:
    """16 optimistic tabular Q-learners (prediction-error and count bonus), 3000 steps each."""

    rw = random_walk_coverage()
    cov = {bonus: float(explore(ExploreConfig(seed=seed, bonus=bonus)).coverage().mean())
           for bonus in ("prediction", "count")}
    return {f"{bonus}_ratio_to_random_walk": c / rw for bonus, c in cov.items()}


def learned_empowerment(seed: int, num_threads: int = 1) -> dict[str, float]:
    """The README's empowerment agent (10 x 10 room, n = 3): its map against the exact one, and where the
    agent it drives spends its late steps."""

    cfg = config([*EMPOWERMENT, f"run.num_threads={num_threads}"], seed)
    res = train(cfg)
    emp = EmpowermentObjective(**cfg.objective.kwargs.get("empowerment", {})).attach(res.agent)
    env = gym.make(cfg.env.id, **cfg.env.kwargs)
    c = empowerment_comparison(emp, env)
    env.close()
    exact = c["exact"]
    top = exact >= np.nanpercentile(exact, 90)
    late = late_occupancy(res.agent, cfg.env.id, cfg.env.kwargs, top, steps=100, late_from=50, seed=123)
    return {"spearman": c["spearman"], "max_excess_bits": c["max_excess_bits"],
            "mean_abs_error_bits": c["mean_abs_error_bits"], "late_top10_share": late}


def learning_check(name: str, extra: tuple[str, ...] = ()) -> Callable[[int, int], dict[str, float]]:
    """A check of :mod:`agents.experiments.learning_report` as a measurement (``extra``: overrides added
    to its budget)."""

    def measure(seed: int, num_threads: int = 1) -> dict[str, float]:

        base = lr.CHECKS[name]
        check = dataclasses.replace(base, budget=(*base.budget, *extra)) if extra else base
        res = lr.run_check(check, seed, num_threads)
        d = res["details"]
        out = {"reached": res["reached"], "untrained": res["untrained"]}
        if name == "water_maze":
            out |= {"latency_ratio_to_untrained": res["reached"] / res["untrained"],
                    "latency_ratio_to_ideal": res["reached"] / d["ideal_latency"],
                    "escape_fraction": d["escape_fraction"]}
        if name == "patch_foraging":
            out |= {"leave_threshold_error": abs(d["leave_threshold"] - d["optimal_leave_threshold"]),
                    "harvests_per_patch": d["harvests_per_patch"]}
        return out

    measure.__name__ = f"learning_check_{name}"
    return measure


# Every registered rule through the trainer on OrientationDiscriminationEasy (tests/agents/rules/test_trainer.py):
# its budget and setup are the rule's ``trainer_steps`` / ``trainer_overrides`` class attributes. At
# backprop's 16384 steps DFA stayed at chance in 10 of 32 runs (8 seeds x 4 code paths) and sign symmetry
# in 4 (the policy settles on one answer before the feedback aligns): they get 32768. FA stays at chance
# in 1 of 32 runs at 32768 steps and at 49152 alike (a rare collapse, not a short budget). Node
# perturbation on uncentred [0, 1] images (mean 0.52, std 0.08) drove its tanh units to +-1 in 4 of 8
# seeds (its noisy node errors times the common mean image); on centred images every seed learns.


def task_rules() -> tuple[str, ...]:
    """The registered rules the trainer-level task checks cover: those with ``learns_tasks`` (the Hebbian
    rules train only their output layer on the objective and are measured by Fig. 3's checks instead) and
    ``trains_agents`` (RDD feedback trains MLPs only)."""
    return tuple(r for r in RULES if rule_class(r).learns_tasks and rule_class(r).trains_agents)


def reinforce_rules() -> tuple[str, ...]:
    """The registered rules the REINFORCE check on a small MLP covers (tests/agents/rules/test_on_a_task.py):
    those with ``learns_tasks``."""
    return tuple(r for r in RULES if rule_class(r).learns_tasks)


def rule_budget(rule: str) -> tuple[int, tuple[str, ...]]:
    """(env steps, extra config overrides) of ``rule``'s trainer check, from the registry."""
    cls = rule_class(rule)
    return cls.trainer_steps, tuple(cls.trainer_overrides)


def rule_config(rule: str, steps: int, extra: tuple[str, ...], seed: int = 0, num_threads: int = 1):
    """OrientationDiscriminationEasy with the env's defaults, ``rule``, ``steps`` env steps, quiet."""

    return resolve_config("BrainSet/OrientationDiscriminationEasy-v0", overrides=[parse_override(o) for o in (
        *lr.QUIET, f"train.total_steps={steps}", "run.eval_every=0", "run.eval_episodes=8", f"run.seed={seed}",
        f"run.num_threads={num_threads}", f"rule.name={rule}", *extra)])


def rule_accuracy(rule: str) -> Callable[[int, int], dict[str, float]]:
    """Accuracy on 1000 fresh trials after training with ``rule`` (its registry budget and setup), the
    same network's before training, and the gain."""

    def measure(seed: int, num_threads: int = 1) -> dict[str, float]:

        steps, extra = rule_budget(rule)
        cfg = rule_config(rule, steps, extra, seed, num_threads)
        set_threads(num_threads)
        seed_everything(cfg.run.seed)  # the same initial weights as train() builds
        envs = make_vec_env(cfg.env.id, 1, cfg.env.kwargs)
        untrained, _, _ = build_components(cfg, envs.single_observation_space, envs.single_action_space)
        envs.close()
        res = train(cfg)
        if res.global_step < steps:
            raise RuntimeError(f"{rule}: trained {res.global_step} of {steps} steps")
        acc, before = lr._accuracy(res.agent, cfg)["score"], lr._accuracy(untrained, cfg)["score"]
        return {"accuracy": acc, "untrained": before, "gain": acc - before}

    measure.__name__ = f"rule_accuracy_{rule}"
    return measure


def noisy_tv(seed: int, num_threads: int = 1) -> dict[str, float]:
    """Share of the last 1000 steps (4 walkers, 3000 steps, four rooms + a 'watch TV' action) spent watching
    the noisy TV, for prediction-error curiosity and for a count bonus on the cell."""

    share = {}
    bonuses = (("curiosity", "curiosity: {normalize: center}"), ("count", "count: {dims: 121, normalize: center}"))
    for spec, kw in bonuses:  # count: the 121 cell features, not the 4 TV features
        cfg = config(["env.kwargs={layout: four_rooms, start: [1, 1], max_steps: 3000, noisy_tv: action}",
                      "env.num_envs=4", "train.total_steps=12000", f"objective.spec={spec}", *TABULAR,
                      f"objective.kwargs={{reward: {{ent_coef: 0.03}}, {kw}}}", f"run.num_threads={num_threads}"],
                     seed)
        _, rec = train_and_record(cfg)
        share[spec] = float((rec.action_trajectories()[:, -1000:] == 5).mean())
    return {"curiosity_tv_share": share["curiosity"], "count_tv_share": share["count"],
            "curiosity_minus_twice_count": share["curiosity"] - 2 * share["count"]}


def fig4_figures(seed_result: dict, stages: tuple[str, ...] = ("V1", "V2", "V4", "IT")) -> dict[str, float]:
    """What the quick Fig. 4 test asserts, from one seed of :func:`agents.experiments.fig4.run_seed`: the threshold's
    after/before ratio and how much more the top stage of the hierarchy (IT) changed than the bottom (V1)."""
    ratios = {s: c["slope_ratio"] for s, c in seed_result["tuning_change"].items()}
    bottom, top = stages[0], stages[-1]
    return {"threshold_after_over_before": seed_result["after"]["threshold"] / seed_result["before"]["threshold"],
            "slope_ratio_top_minus_bottom": ratios[top] - ratios[bottom]}


def fig4_quick(seed: int, num_threads: int = 1) -> dict[str, float]:
    """``scripts/fig4.py --quick`` for one seed (pre-training not cached), in a temporary folder."""

    with tempfile.TemporaryDirectory() as tmp:
        r = run_seed(Fig4Protocol.quick(), seed, out_dir=f"{tmp}/fig4", cache_dir=None, num_threads=num_threads)
    return fig4_figures(r, tuple(Fig4Protocol.quick().stages))


# --- the registry -----------------------------------------------------------------------------------------


def _target(name: str) -> Limit:
    """The target of a learning check of :mod:`agents.experiments.learning_report` (its one definition) as a limit."""

    c = LEARNING[name]
    return Limit(">=" if c.higher_is_better else "<=", c.target)


_LEARN = "tests/agents/experiments/test_learning.py::"
_PRED = "tests/agents/objectives/test_predictive.py::"
CHECKS: dict[str, Check] = {c.name: c for c in (
    Check("ppo_curiosity_coverage",
          _PRED + "test_ppo_curiosity_explores_four_rooms_better_than_a_random_walk",
          ppo_curiosity_coverage, {"ratio_to_random_walk": Limit(">", 1.05)}, test_seeds=tuple(range(8)),
          note="per group 0.91-1.34x (8 seeds x 4 code paths, median 1.18); the mean of 8 groups 1.12-1.20x"),
    Check("tabular_curiosity_coverage",
          "tests/agents/classic/test_curiosity.py::test_optimistic_curiosity_visits_1_3x_the_cells_of_a_random_walk",
          tabular_curiosity_coverage, {"prediction_ratio_to_random_walk": Limit(">=", 1.3),
                                       "count_ratio_to_random_walk": Limit(">=", 1.3)}),
    Check("learned_empowerment",
          "tests/agents/objectives/test_empowerment.py::test_learned_empowerment_tracks_the_exact_map_stays_below_it_and_"
               "drives_the_agent",
          learned_empowerment, {"spearman": Limit(">", 0.75), "max_excess_bits": Limit("<=", 0.1),
                                "late_top10_share": Limit(">", 0.8)},
          note="Spearman 0.80-0.96 over 8 seeds x 2 code paths (0.8 failed once)"),
    Check("orientation_easy", _LEARN + "test_orientation_easy_reaches_90_percent_with_default_"
          "settings", learning_check("orientation_easy"), {"reached": _target("orientation_easy")}),
    Check("patch_foraging", _LEARN + "test_patch_foraging_reaches_80_percent_of_the_mvt_rate",
          learning_check("patch_foraging"), {"reached": _target("patch_foraging"),
                                             "leave_threshold_error": Limit("<=", 1.0)}),
    Check("patch_foraging_per_step",
          _LEARN + "test_patch_foraging_with_a_per_step_discount_leaves_too_early",
          learning_check("patch_foraging", ("env.duration_key=''",)),
          {"reached": Limit("<", _target("patch_foraging").threshold)}),
    Check("water_maze", _LEARN + "test_water_maze_escape_latency_falls_by_more_than_half",
          learning_check("water_maze"), {"latency_ratio_to_untrained": _target("water_maze"),
                                         "latency_ratio_to_ideal": Limit("<=", 1.5),
                                         "escape_fraction": Limit(">=", 1.0)}),
    Check("cartpole", _LEARN + "test_cartpole_vector_observations_learn_with_default_settings",
          learning_check("cartpole"), {"reached": _target("cartpole")}),
    Check("empowerment_goal",
          _LEARN + "test_empowerment_grid_with_a_goal_is_reached_in_most_episodes",
          learning_check("empowerment_goal"), {"reached": _target("empowerment_goal")}),
)}
for _rule in task_rules():
    CHECKS[f"rule_{_rule}"] = Check(
        f"rule_{_rule}",
        f"tests/agents/rules/test_trainer.py::test_rule_trains_orientation_discrimination_through_the_trainer[{_rule}]",
        rule_accuracy(_rule), {"accuracy": Limit(">=", 0.9), "untrained": Limit("<", 0.65)})
CHECKS["noisy_tv"] = Check(
    "noisy_tv", _PRED + "test_prediction_error_is_drawn_to_a_noisy_tv_and_a_count_bonus_is_"
    "not", noisy_tv, {"curiosity_tv_share": Limit(">", 1 / 6), "count_tv_share": Limit("<", 1 / 6),
                      "curiosity_minus_twice_count": Limit(">", 0.0)}, test_seeds=(0, 1),
    note="curiosity's share has a long low tail (0.26-0.85 over 8 seeds x 4 code paths): two seeds averaged")
CHECKS["fig4_quick"] = Check(
    "fig4_quick",
    "tests/agents/experiments/test_fig4.py::test_quick_fig4_threshold_drops_and_the_top_stage_changes_more",
    fig4_quick,
    {"threshold_after_over_before": Limit("<=", 0.95), "slope_ratio_top_minus_bottom": Limit(">", 0.0)},
    note="after/before threshold 0.46-0.90 over seeds x code paths (a drop of 10% failed once)")

# --- checks measured by their tests (small, fast: the audit runs their tests at other seeds) ---------------
_ON_TASK = "tests/agents/rules/test_on_a_task.py::test_rule_learns_orientation_discrimination_above_chance"
_FEEDBACK = "tests/agents/rules/test_feedback.py::"
_PERTURB = "tests/agents/rules/test_perturbation.py::"
_FIG2 = "tests/agents/experiments/test_fig2.py::"
_FIELD = "tests/agents/probes/test_update_field.py::"
_EP = "tests/agents/rules/test_equilibrium.py::"
_META = "tests/agents/experiments/test_metarl.py::"
_BCI = "tests/agents/experiments/test_bci.py::"
_AGREL = "tests/agents/rules/test_agrel.py::"
_DEND = "tests/agents/rules/test_dendritic.py::"
_RDD = "tests/agents/rules/test_rdd.py::"
_FIG5 = "tests/agents/experiments/test_fig5.py::"
_BY_TEST: list[Check] = [
    *[by_test(f"reinforce_{r}", f"{_ON_TASK}[{r}]",
              {"untrained_off_chance": Limit("<", 0.1), "accuracy": Limit(">", 0.6)}) for r in reinforce_rules()],
    by_test("fa_linear_alignment", _FEEDBACK + "test_fa_linear_30_20_10_hidden_update_aligns_below_45_deg",
            {"first_angle_deg": Limit(">", 80.0), "min_early_angle_deg": Limit("<", 90.0),
             "late_angle_deg": Limit("<", 45.0)}),
    by_test("fa_digits", _FEEDBACK + "test_fa_digits_matches_backprop_and_aligns",
            {"backprop_accuracy": Limit(">", 0.93), "fa_minus_backprop": Limit(">=", -0.025),
             "init_off_orthogonal_deg": Limit("<=", 10.0), "trained_angle_deg": Limit("<", 75.0)},
            note="backprop 0.950-0.979 and FA - backprop -0.014 to 0.000 over 8 seeds (the same on every path)"),
    by_test("sign_symmetry_digits", _FEEDBACK + "test_sign_symmetry_digits_angle_below_40_deg",
            {"accuracy": Limit(">", 0.93), "trained_angle_deg": Limit("<", 40.0)},
            note="accuracy 0.944-0.977 over 8 seeds"),
    by_test("dfa_digits", _FEEDBACK + "test_dfa_two_hidden_layers_digits_within_0_02_of_backprop",
            {"dfa_minus_backprop": Limit(">=", -0.02), "angle_drop_deg": Limit(">", 20.0)}),
    *[by_test(f"node_perturbation_cosine_{i}_{o}",
              f"{_PERTURB}test_node_perturbation_cosine_matches_theory_with_d_outputs[{i}-{o}]",
              {"relative_error": Limit("<", 0.15)}) for i, o in ((8, 16), (64, 16), (8, 32))],
    by_test("node_perturbation_cosine_inputs",
            _PERTURB + "test_node_perturbation_cosine_does_not_depend_on_number_of_inputs",
            {"relative_difference": Limit("<", 0.1)}),
    *[by_test(f"weight_perturbation_cosine_{i}_{o}",
              f"{_PERTURB}test_weight_perturbation_cosine_matches_theory_with_d_weights[{i}-{o}]",
              {"relative_error": Limit("<", 0.15)}) for i, o in ((4, 4), (8, 4), (16, 8))],
    *[by_test(f"{r}_average", f"{_PERTURB}test_average_of_many_estimates_converges_to_the_gradient[{r}]",
              {"cosine": Limit(">", 0.95), "norm_ratio_off_one": Limit("<", 0.15)})
      for r in ("node_perturbation", "weight_perturbation")],
    by_test("node_perturbation_recurrent", _PERTURB + "test_node_perturbation_on_a_recurrent_cell_perturbs_every_step",
            {"cosine": Limit(">", 0.92)}, note="0.944-0.996 over 8 seeds"),
    by_test("fig2_backprop_variance", _FIG2 + "test_backprop_is_unbiased_and_has_minibatch_variance",
            {"min_variance": Limit(">", 0.0), "max_variance": Limit("<", 50.0)}),
    by_test("fig2_fa_init",
            _FIG2 + "test_feedback_alignment_at_init_is_orthogonal_in_hidden_layers_and_exact_at_the_output",
            {"hidden1_off_orthogonal_deg": Limit("<", 30.0)}),
    by_test("fig2_weight_perturbation", _FIG2 + "test_weight_perturbation_is_far_noisier_than_backprop",
            {"variance_ratio_to_backprop": Limit(">", 30.0), "mean_single_angle_deg": Limit(">", 80.0)}),
    by_test("fig2_run", _FIG2 + "test_run_fig2_writes_json_and_png",
            {"fa_init_hidden1_bias_deg": Limit(">", 60.0), "fa_accuracy_gain": Limit(">", 0.0)}),
    by_test("fig2_knob_trends", "tests/agents/experiments/test_fig2_knobs.py::"
            "test_knob_trends_pc_steps_dendritic_self_prediction_and_ep_nudging",
            {"pc_bias_drop_deg": Limit(">", 15.0), "dendritic_bias_drop_deg": Limit(">", 50.0),
             "dendritic_mismatch_ratio": Limit("<", 1e-6), "ep_one_sided_minus_symmetric_deg": Limit(">", 2.0),
             "ep_steps_bias_drop_deg": Limit(">", 5.0)},
            note="64-16-10 tanh at init, mean of 2 seeds, 8 seed pairs x (default, MKL_CBWR=COMPATIBLE): PC bias "
                 "1 -> 20 steps drops 23.2-27.3 deg; dendritic 0 -> 3000 self-prediction steps drops 77.6-90.1 deg "
                 "as the apical mismatch falls to <= 6.1e-12 of its start; EP one-sided minus symmetric at beta 0.05 "
                 "4.4-77.4 deg; EP (symmetric) 10 -> 100 steps drops 9.0-18.8 deg"),
    by_test("fig2_env_fa", "tests/agents/experiments/test_fig2_env.py::"
            "test_fresh_agent_backprop_is_exact_and_feedback_alignment_is_biased_below_the_heads",
            {"valid_transitions": Limit(">", 100), "fa_fc1_bias_deg": Limit(">", 45.0)}),
    by_test("watermaze_actor_critic", "tests/agents/classic/test_actor_critic.py::"
            "test_learns_the_platform_then_is_inflexible_after_reversal",
            {"day1_latency": Limit(">", 80.0), "day10_over_day1": Limit("<=", 0.3),
             "reversal_over_day_before": Limit(">=", 3.0), "fraction_of_rats_improved": Limit(">=", 1.0),
             "probe_quadrant_share": Limit(">", 0.5), "probe_share_minus_twice_early": Limit(">", 0.0)}),
    by_test("cka_digits_layers",
            "tests/agents/probes/test_probes.py::test_cka_matches_the_layers_of_differently_seeded_digits_mlps",
            {"mean_layers_matched": Limit(">=", 3.0), "min_matched_cka": Limit(">", 0.9)},
            note="one pair: 5/5 layers on 5 of 8 seeds, 3/5 at worst; the mean of two pairs 3.5-5.0"),
    *[by_test(f"{o}_familiar_bonus",
              f"{_PRED}test_bonus_of_a_familiar_state_is_below_half_the_bonus_of_a_novel_one[{o}]",
              {"familiar_over_novel": Limit("<", 0.5)}) for o in ("curiosity", "rnd")],
    by_test("tabular_zero_init_coverage",
            "tests/agents/classic/test_curiosity.py::test_zero_initialised_values_under_explore",
            {"ratio_to_random_walk": Limit("<", 0.5)}),
    by_test("demo_short", "tests/agents/experiments/test_demo.py::test_run_demo_trains_and_renders",
            {"accuracy": Limit(">", 0.6)}),
    by_test("predictive_error_falls", _PRED + "test_predictive_alone_trains_the_shared_encoder",
            {"late_over_early_error": Limit("<", 0.5)}),
    # Fig. 3 (agents/probes/update_field.py, agents/experiments/fig3.py). Finite differences of a float64
    # field leave ~1e-8 of antisymmetry on an exact gradient: "0" is < 1e-6.
    by_test("oja_principal_component", "tests/agents/rules/test_hebbian.py::"
            "test_oja_unit_learns_the_principal_direction_and_unit_norm",
            {"norm_off_one": Limit("<", 1e-3), "abs_cos_to_pc1": Limit(">", 0.99)},
            note="|w| - 1 <= 2e-16, |cos| to PC1 0.9996-1.0 over 8 seeds"),
    by_test("update_field_linear_estimate", _FIELD + "test_antisymmetry_of_linear_fields",
            {"relative_error": Limit("<", 0.25)}, note="256 probe pairs: 0.005-0.14 over 8 seeds"),
    by_test("fig3_rules", _FIELD + "test_fig3_rules_backprop_and_hebb_are_gradients_fa_sign_symmetry_and_oja_are_not",
            {"backprop_orthogonal_fraction": Limit("<", 1e-9), "backprop_antisymmetry": Limit("<", 1e-6),
             "hebbian_hidden_antisymmetry": Limit("<", 1e-6), "feedback_alignment_antisymmetry": Limit(">", 0.25),
             "sign_symmetry_antisymmetry": Limit(">", 0.25), "oja_hidden_antisymmetry": Limit(">", 0.01),
             "hebbian_orthogonal_fraction": Limit(">", 0.4)},
            note="8 seeds: backprop 1.1e-8-4.8e-8, Hebb (hidden layer) 1.2e-8-4.1e-8, FA 0.40-1.23, sign "
                 "symmetry 0.36-1.76, Oja (hidden layer, small initial weights) 0.029-0.148; Hebb's update is "
                 "0.64-0.93 orthogonal to the gradient"),
    *[by_test(f"fig3_{r}", f"{_FIELD}test_perturbation_mean_update_is_symmetric_in_expectation[{r}]",
              {"antisymmetry_1024": Limit("<", lim), "ratio_1024_to_64": Limit("<", 0.95)}, note=note)
      for r, lim, note in (
          ("node_perturbation", 0.3, "8 seeds: 0.043-0.198 at 1024 perturbations; 1024 / 64: 0.10-0.83 "
                                     "(1/sqrt(K) predicts 0.25; 4 probe pairs)"),
          ("weight_perturbation", 0.35, "8 seeds: 0.049-0.246 at 1024 perturbations; 1024 / 64: 0.15-0.72"))],
    # Equilibrium propagation and CHL (agents/rules/equilibrium.py).
    by_test("ep_beta_slopes",
            _EP + "test_ep_bias_falls_like_beta_one_sided_and_beta_squared_symmetric_and_chl_is_biased",
            {"unrolled_vs_finite_differences_deg": Limit("<", 1e-3), "one_sided_slope_off_one": Limit("<", 0.2),
             "symmetric_slope_off_two": Limit("<", 0.15),
             "symmetric_over_one_sided_at_smallest_beta": Limit("<", 0.2),
             "chl_angle_deg": Limit(">", 20.0)},
            note="6-12-3 tanh, beta 0.2-0.025, 8 seeds: slope off 1 0.050-0.101 one-sided, off 2 0.003-0.028 "
                 "symmetric; symmetric / one-sided angle at beta 0.025 0.065-0.077; CHL 31.2-55.4 deg; "
                 "unrolled backprop vs finite differences <= 1.5e-6 deg"),
    by_test("ep_digits", _EP + "test_ep_trains_the_digits_mlp_within_a_few_points_of_backprop",
            {"backprop_accuracy": Limit(">", 0.9), "ep_accuracy": Limit(">", 0.87),
             "ep_minus_backprop": Limit(">=", -0.07)},
            note="64-32-10 tanh, 8 epochs, Adam 3e-3, 8 seeds: backprop 0.930-0.967, EP (symmetric, beta 0.1, 30 "
                 "steps) 0.898-0.944, EP - backprop -0.046 to -0.014"),
    # AGREL / Q-AGREL (agents/rules/agrel.py).
    by_test("agrel_digits", _AGREL + "test_agrel_trains_the_digits_mlp_close_to_backprop",
            {"backprop_accuracy": Limit(">", 0.9), "agrel_accuracy": Limit(">", 0.87),
             "agrel_minus_backprop": Limit(">=", -0.07)},
            note="64-32-10 tanh, 8 epochs, Adam 3e-3, 8 seeds x 4 code paths (all alike): backprop "
                 "0.930-0.967, AGREL (epsilon 0.02) 0.903-0.959, AGREL - backprop -0.041 to +0.014"),
    by_test("agrel_bandit", _AGREL + "test_agrel_learns_orientation_discrimination_from_its_own_choices_and_rewards",
            {"untrained_off_chance": Limit("<", 0.1), "accuracy": Limit(">", 0.6)},
            note="16 px gratings, 300 updates of 128 trials, Adam 3e-3, epsilon 0.02, 8 seeds x 4 code paths "
                 "(all alike): greedy accuracy 0.668-0.995, untrained within 0.035 of chance"),
    # Dendritic error learning (agents/rules/dendritic.py).
    by_test("dendritic_self_prediction", _DEND + "test_self_prediction_cancels_the_top_down_input_at_rest",
            {"untrained_mismatch": Limit(">", 1.0), "trained_mismatch": Limit("<", 1e-4)},
            note="64-32-10, digits inputs, 8 seeds x 4 code paths: rest apical mismatch 2.16-8.95 "
                 "untrained, 1.3e-6-2.4e-5 after 1000 self-prediction steps on random inputs"),
    by_test("dendritic_angle_vs_self_prediction", _DEND + "test_angle_to_backprop_falls_as_self_prediction_improves",
            {"min_angle_drop_deg": Limit(">", 0.0), "best_over_worst_angle": Limit("<", 0.5),
             "worst_angle_deg": Limit(">", 15.0)},
            note="6-12-10-3 tanh, aligned, beta 0.1, 100/300/1000/3000 self-prediction steps, 8 seeds x 4 code paths: "
                 "every step lowers the angle (smallest drop 2.5 deg), 3000 / 100 steps 0.17-0.39, angle at 100 "
                 "steps 23.0-62.7 deg"),
    by_test("dendritic_backprop_limit",
            _DEND + "test_aligned_top_down_and_perfect_self_prediction_give_backprop_as_beta_shrinks",
            {"angle_at_smallest_beta_deg": Limit("<", 0.5), "slope_off_one": Limit("<", 0.1),
             "norm_ratio_off_one": Limit("<", 0.01)},
            note="beta 0.1/0.01/0.001, 8 seeds x 4 code paths: 0.061-0.150 deg at beta 0.001, log-log slope off 1 "
                 "0.007-0.018, norm ratio off 1 <= 6.3e-4"),
    by_test("dendritic_digits", _DEND + "test_dendritic_error_trains_the_digits_mlp_near_backprop",
            {"backprop_accuracy": Limit(">", 0.9), "dendritic_accuracy": Limit(">", 0.9),
             "dendritic_minus_backprop": Limit(">=", -0.06)},
            note="64-32-10 tanh, 8 epochs, Adam 3e-3, 8 seeds x 4 code paths: backprop 0.930-0.967, "
                 "dendritic error (random top-down, beta 0.5) 0.923-0.938, difference -0.035 to -0.004"),
    # RDD and RDD feedback (agents/rules/rdd_estimate.py, agents/rules/rdd.py).
    by_test("rdd_confounded", _RDD + "test_rdd_is_unbiased_where_the_observed_dependence_is_confounded",
            {"naive_error": Limit(">", 0.25), "rdd_error": Limit("<", 0.03),
             "rdd_single_median_error": Limit("<", 0.06)},
            note="true effect 0.5, 8 seeds x 4 code paths: naive off by 0.361-0.365, RDD (window 0.2, "
                 "mean of 200 estimates of 2000 trials) off by 0.001-0.008, single estimates' median error "
                 "0.028-0.036"),
    by_test("rdd_window_tradeoff", _RDD + "test_a_narrow_window_is_less_biased_but_noisier_than_a_wide_one",
            {"narrow_bias": Limit("<", 0.04), "wide_minus_narrow_bias": Limit(">", 0.08),
             "narrow_over_wide_variance": Limit(">", 1.8)},
            note="8 seeds x 4 code paths: window 0.1 bias 0.001-0.016, window 0.6 0.125-0.155 more; variance ratio "
                 "2.42-2.94"),
    by_test("rdd_feedback_alignment", _RDD + "test_learned_feedback_aligns_with_the_forward_weights",
            {"initial_angle_deg": Limit(">", 75.0), "angle_after_100_deg": Limit("<", 20.0),
             "angle_after_10_deg": Limit("<", 45.0)},
            note="digits 64-32-10, W fixed, feedback_lr 0.1, 8 seeds x 4 code paths: 85.1-93.1 deg -> 30.2-33.4 "
                 "after 10 updates -> 10.7-12.3 after 100"),
    by_test("rdd_vs_naive_feedback",
            _RDD + "test_feedback_learned_from_the_observed_dependence_is_confounded_by_shared_noise",
            {"naive_minus_rdd_deg": Limit(">", 15.0), "naive_unshared_deg": Limit("<", 10.0)},
            note="digits 64-32-10, W fixed, 100 updates, 8 seeds x 4 code paths: RDD 10.7-12.3 deg, naive 35.0-53.9 "
                 "(naive - RDD 23.3-41.6); without shared noise naive 5.3-6.0"),
    by_test("rdd_digits", _RDD + "test_rdd_trains_the_digits_mlp_like_backprop_and_aligns_better_than_fa",
            {"backprop_accuracy": Limit(">", 0.9), "rdd_accuracy": Limit(">", 0.9),
             "rdd_minus_backprop": Limit(">=", -0.035), "rdd_minus_fa": Limit(">=", -0.025),
             "rdd_angle_deg": Limit("<", 25.0), "fa_minus_rdd_angle_deg": Limit(">", 10.0)},
            note="64-32-10 tanh, 8 epochs, Adam 3e-3, 8 seeds x 4 code paths: backprop 0.930-0.967, FA "
                 "0.926-0.952, RDD 0.932-0.959 (RDD - backprop -0.010 to +0.002, RDD - FA -0.004 to +0.019); "
                 "output angle(B, W) RDD 13.3-15.4 deg, FA 35.2-39.2 (FA - RDD 20.9-25.8)"),
    by_test("fig3_panels", "tests/agents/experiments/test_fig3.py::"
            "test_panels_follow_are_orthogonal_to_and_partly_follow_the_gradient",
            {"fa_orthogonal_fraction": Limit(">", 0.2), "fa_antisymmetry": Limit(">", 0.5),
             "fa_estimate_relative_error": Limit("<", 0.35), "backprop_antisymmetry_estimated": Limit("<", 1e-8)},
            note="FA panel: orthogonal 0.434, antisymmetry 0.735 (exact); the 4-probe estimate within 0.8-23.5% "
                 "over 8 seeds"),
    by_test("metarl_bandit", _META + "test_frozen_lstm_bandit_regret_between_bayes_optimal_and_thompson",
            {"regret_over_thompson": Limit("<", 1.1), "regret_minus_bayes_optimal": Limit(">", -0.3),
             "untrained_regret": Limit(">", 10.0)},
            note="2 arms, 100 pulls, the recipe (2M steps, gamma 0.8), 4000 frozen episodes; 4 seeds x 3 paths + 2 "
                 "seeds x threads2: regret 2.18-2.62 (Bayes-optimal 1.75, Thompson 2.79: ratio 0.78-0.94), untrained "
                 "16.1-16.3; at gamma 0.9 two of four seeds came within 0.05 of Thompson's or above it"),
    by_test("metarl_two_step", _META + "test_frozen_lstm_two_step_stay_probabilities_show_the_model_based_cross",
            {"rewarded_common": Limit(">", 0.8), "unrewarded_uncommon": Limit(">", 0.7),
             "rewarded_common_minus_uncommon": Limit(">", 0.2), "unrewarded_uncommon_minus_common": Limit(">", 0.2),
             "model_based_index": Limit(">", 0.8), "untrained_index": Limit("<", 0.5)},
            note="TwoStepSwitching, 300k steps, 400 frozen episodes; 4 seeds x 3 paths + 2 seeds x threads2: stay "
                 "0.947-0.964 (rewarded common), 0.889-0.912 (unrewarded uncommon), the crossed differences "
                 "0.297-0.445 and 0.468-0.609, model-based index 1.19-1.55 (untrained 0.01-0.06)"),
    by_test("metarl_harlow", _META + "test_frozen_lstm_harlow_trial_two_rises_from_chance",
            {"trial2": Limit(">", 0.9), "trial1_off_chance": Limit("<", 0.1),
             "untrained_trial2_off_chance": Limit("<", 0.15)},
            note="Harlow (features), 500k steps, 4000 frozen episodes; 4 seeds x 3 paths + 2 seeds x threads2: "
                 "trial 2 0.997-0.998, trial 1 within 0.021 of chance, untrained trial 2 within 0.038 of chance "
                 "(at 300k steps trial 2 was 0.896-0.984 on 4 seeds: the jump comes between 100k and 300k)"),
    # Fig. 5 (agents/experiments/fig5.py): every rule learns the Go/NoGo task it is probed on.
    by_test("fig5_go_nogo", _FIG5 + "test_every_rule_learns_go_nogo_from_its_own_choices",
            {f"{r}_hit_rate": Limit(">", 0.9) for r in ("backprop", "feedback_alignment", "agrel", "dendritic_error")},
            note="OrientationGoNoGo at 16 px, S- unreinforced, 400 updates of 128 trials, Adam 1e-3; 8 seeds x 3 "
                 "paths + 2 seeds x threads2: hit rate 0.976-1.000 for every rule (untrained about 0.5)"),
    by_test("fig5_go_nogo_timeout", _FIG5 + "test_a_false_alarm_cost_teaches_every_rule_to_withhold",
            {f"{r}_discrimination": Limit(">", 0.8)
             for r in ("backprop", "feedback_alignment", "agrel", "dendritic_error")},
            note="as fig5_go_nogo with a false alarm costing 0.5; hit rate - false-alarm rate 0.938-0.993 on 8 seeds "
                 "x 3 paths + 2 seeds x threads2 (untrained about 0)"),
    by_test("bci_intuitive", _BCI + "test_backprop_learns_the_intuitive_decoder_with_its_own_units",
            {"trained_success": Limit(">", 0.75), "success_gain": Limit(">", 0.5),
             "trained_steps_over_min": Limit("<", 2.5)},
            note="BCI recipe (16 core units as the action), PPO 150k steps, frozen on 40 intuitive trials x 16 envs; "
                 "8 seeds x compatible/avx2 + 5 seeds auto (the brainset bci runs, same calls): success 0.869-1.000 "
                 "(untrained 0.14-0.34, gain 0.659-0.852), steps / min_steps 1.12-1.97"),
    by_test("bci_within", _BCI + "test_backprop_recovers_part_of_its_performance_after_a_perturbation[within]",
            {"recovered": Limit(">", 0.02), "late_minus_early_success": Limit(">", 0.03)},
            note="from the bci_intuitive weights, 150 within-manifold trials x 16 envs; 8 seeds x compatible/avx2 + 5 "
                 "auto: recovered 0.046-0.402, late - early success 0.057-0.412"),
    by_test("bci_outside", _BCI + "test_backprop_recovers_part_of_its_performance_after_a_perturbation[outside]",
            {"recovered": Limit(">", 0.0), "late_minus_early_success": Limit(">", 0.0)},
            note="as bci_within, outside the manifold: recovered 0.025-0.405, late - early success 0.030-0.350; within "
                 "- outside recovered -0.22 to +0.23 (mean 0.04 +- 0.05, 14 of 21 runs positive): not asserted"),
]
CHECKS.update({c.name: c for c in _BY_TEST})
