"""Play a BrainSet task with the keyboard (see brainset_envs/play.py)."""

from brainset_envs.play import main

if __name__ == "__main__":
    main()
