"""The demo function behind `make demo` (short budget here; the real demo trains for up to two minutes)."""

from agents.experiments.demo import run_demo


def test_run_demo_trains_and_renders(tmp_path, audit):
    # A step budget, not a time budget: the result must not depend on how busy the machine is.
    res = run_demo(tmp_path, seconds=600.0, env_id="BrainSet/OrientationDiscriminationEasy-v0", max_steps=6144,
                   seed=audit.seed(0))
    assert res.stopped in ("total_steps", "target_return")
    assert res.run_dir.parent == tmp_path
    for name in ("video.mp4", "learning_curve.png", "metrics.csv", "config.yaml", "checkpoints/best.pt"):
        assert (res.run_dir / name).exists(), name
    audit.check("demo_short", {"accuracy": res.last_eval})  # above chance (0.5) after a few thousand steps
