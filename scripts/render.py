"""Record episodes to MP4 or GIF: of any BrainSet env with a random or ground-truth policy, or of a
trained agent from its run folder.

    python scripts/render.py --env BrainSet/OrientationDiscrimination-v0 --episodes 5 --out runs/o.mp4
    python scripts/render.py --env BrainSet/PatchForaging-v0 --policy oracle --out runs/pf.gif
    python scripts/render.py --env ... --kwargs '{"trials_per_episode": 10}'
    python scripts/render.py --checkpoint runs/<run folder> [--which best|last] [--episodes 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a == "--checkpoint" or a.startswith("--checkpoint=") for a in argv):
        from agents.cli import render_main  # a trained agent: see `render.py --checkpoint RUN --help`

        return render_main(argv)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="BrainSet/OrientationDiscrimination-v0", help="a registered env id")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--policy", default="random", help="'random' or 'oracle' (the task's ground truth)")
    p.add_argument("--out", default=None, help="output .mp4 or .gif (default runs/<env>.mp4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the env's render_fps)")
    p.add_argument("--hold", type=int, default=1, help="repeat each frame this many times")
    p.add_argument("--kwargs", default="{}", help="JSON dict of env constructor arguments")
    p.add_argument("--checkpoint", help="record a trained agent instead (a run folder or .pt file)")
    args = p.parse_args(argv)

    import gymnasium as gym

    import brainset_envs  # noqa: F401
    from brainset_envs.recording import record_episodes

    out = args.out or f"runs/{args.env.split('/')[-1]}.mp4"
    env = gym.make(args.env, render_mode="rgb_array", **json.loads(args.kwargs))
    res = record_episodes(env, out, args.episodes, args.policy, seed=args.seed, fps=args.fps, hold_frames=args.hold)
    env.close()
    print(f"wrote {res['path']}: {res['episodes']} episodes, {res['frames']} frames, returns {res['returns']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
