"""The demo function behind `make demo` (short budget here; the real demo trains for up to two minutes)."""

from agents.demo import run_demo


def test_run_demo_trains_and_renders(tmp_path):
    res = run_demo(tmp_path, seconds=3.0, env_id="BrainSet/OrientationDiscriminationEasy-v0")
    assert res.stopped in ("max_seconds", "target_return")
    assert res.run_dir.parent == tmp_path
    for name in ("video.mp4", "learning_curve.png", "metrics.csv", "config.yaml", "checkpoints/best.pt"):
        assert (res.run_dir / name).exists(), name
    assert res.last_eval > 0.6  # above chance (0.5) after a few seconds of training
