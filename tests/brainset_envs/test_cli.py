"""The ``brainset`` console command (brainset_envs/cli.py): one command per front end in scripts/, each the same
main(argv) the script runs; usage errors argparse-style; a missing agents extra named in one line."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from brainset_envs import cli as brainset_cli
from brainset_envs.cli import COMMANDS
from tests import ROOT


def _target(name: str):
    module, _, function = COMMANDS[name].target.partition(":")
    return getattr(importlib.import_module(module), function)


def _python(*code_and_args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    return subprocess.run([sys.executable, *code_and_args], capture_output=True, text=True, timeout=300, env=env,
                          cwd=cwd)


def test_every_script_is_a_command_running_the_same_main():
    scripts = sorted(p.name for p in (ROOT / "scripts").glob("*.py"))
    assert sorted(c.script for c in COMMANDS.values()) == scripts
    for name, command in COMMANDS.items():
        spec = importlib.util.spec_from_file_location(f"_script_{name}", ROOT / "scripts" / command.script)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # no __main__: defines, runs nothing
        assert _target(name) in vars(mod).values(), f"scripts/{command.script} does not run {command.target}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_help_exits_0(name, capsys):
    with pytest.raises(SystemExit) as info:
        brainset_cli.main([name, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and "--help" in out


@pytest.mark.parametrize("argv, why", [([], "a command is required"), (["nope"], "invalid choice: 'nope'"),
                                       (["--nope"], "invalid choice: '--nope'")])
def test_no_or_an_unknown_command_exits_2_listing_them(argv, why, capsys):
    with pytest.raises(SystemExit) as info:
        brainset_cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("brainset: error:") and why in last and all(name in last for name in COMMANDS)
    assert all(f"  {name}" in err and c.help in err for name, c in COMMANDS.items())


def test_help_lists_the_commands(capsys):
    assert brainset_cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(c.help in out for c in COMMANDS.values()) and 'pip install "brainset[agents]"' in out


@pytest.mark.parametrize("name", ["fig4", "train", "render"])
def test_command_help_equals_the_script_help_but_the_prog_name(name):
    script = _python(str(ROOT / "scripts" / f"{name}.py"), "--help")
    command = _python("-m", "brainset_envs.cli", name, "--help")
    assert script.returncode == command.returncode == 0, (script.stderr, command.stderr)
    assert script.stdout.startswith(f"usage: {name}.py ") and command.stdout.startswith(f"usage: brainset {name} ")
    # argparse wraps the usage lines after the prog name: compare with the names taken out
    assert " ".join(script.stdout.replace(f"usage: {name}.py", "usage:", 1).split()) == \
        " ".join(command.stdout.replace(f"usage: brainset {name}", "usage:", 1).split())


def test_a_missing_agents_extra_is_one_line_and_exit_2():
    """torch blocked as on an envs-only install: the dispatcher and the env commands still work; a command
    that needs the agents extra says how to get it."""
    block = "import sys; sys.modules['torch'] = None; from brainset_envs import cli as brainset_cli; "
    res = _python("-c", block + "sys.exit(brainset_cli.main(['fig4', '--help']))")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == ('brainset fig4: error: this command needs torch, from the agents extra: '
                                  'pip install "brainset[agents]"')
    res = _python("-c", block + "sys.exit(brainset_cli.main(['render', '--checkpoint', 'runs/x']))")
    assert res.returncode == 2 and 'pip install "brainset[agents]"' in res.stderr
    res = _python("-c", block + "print(brainset_cli.main(['--help']), sorted(m for m in sys.modules "
                                "if m.split('.')[0] in ('agents', 'matplotlib', 'stable_baselines3', 'tensorboard')))")
    assert res.returncode == 0 and res.stdout.strip().endswith("0 []"), res.stdout  # nothing of the extra
    for cmd in (["play", "--help"], ["render", "--help"]):
        res = _python("-c", block + f"sys.exit(brainset_cli.main({cmd!r}))")
        assert res.returncode == 0 and res.stdout.startswith("usage:"), res.stderr


def test_render_of_an_env_without_torch(tmp_path):
    out = tmp_path / "o.gif"
    res = _python("-c", "import sys; sys.modules['torch'] = None; from brainset_envs import cli as brainset_cli; "
                  "sys.exit(brainset_cli.main("
                  f"['render', '--env', 'BrainSet/PatchForaging-v0', '--policy', 'oracle', '--episodes', '1', "
                  f"'--max-frames', '20', '--out', {str(out)!r}]))")
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > 0 and "torch" not in res.stderr


def test_train_end_to_end(tmp_path, capsys):
    code = brainset_cli.main(["train", "--env", "CartPole-v1", "--arch", "mlp", "--seed", "1", "--total-steps", "64",
                              "--runs-dir", str(tmp_path), "--no-video", "--no-progress", "--device", "cpu",
                              "env.num_envs=4", "train.num_steps=16", "run.eval_episodes=2"])
    assert code == 0
    (run,) = tmp_path.iterdir()
    assert run.name.startswith("CartPole-v1__mlp-reward-backprop__1__")
    assert (run / "checkpoints" / "last.pt").is_file()
    assert f"run folder: {run}" in capsys.readouterr().out
    assert (run / "command.txt").read_text().startswith("brainset train --env CartPole-v1 ")  # runnable again
    assert sys.argv[0] != "brainset train"  # restored


def test_a_usage_error_names_the_command(capsys):
    with pytest.raises(SystemExit) as info:
        brainset_cli.main(["explore", "--walkers", "0"])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("brainset explore: error:")
