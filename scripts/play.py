"""Play a BrainSet task with the keyboard (see brainset_envs/play.py); needs a display."""

from brainset_envs.play import main

if __name__ == "__main__":
    raise SystemExit(main())
