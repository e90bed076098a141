"""Record episodes to MP4 or GIF: of any BrainSet env with a random or ground-truth policy, or of a
trained agent from its run folder.

    python scripts/render.py --env BrainSet/OrientationDiscrimination-v0 --episodes 5 --out runs/o.mp4
    python scripts/render.py --env BrainSet/PatchForaging-v0 --policy oracle --out runs/pf.gif
    python scripts/render.py --env ... --kwargs '{"trials_per_episode": 10}'
    python scripts/render.py --checkpoint runs/<run folder> [--which best|last] [--episodes 8]

The work is in brainset_envs.recording.main (an env) and agents.cli.render_main (a trained agent).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a == "--checkpoint" or a.startswith("--checkpoint=") for a in argv):
        from agents.cli import render_main  # a trained agent: see `render.py --checkpoint RUN --help`

        return render_main(argv)
    from brainset_envs.recording import main as record_main

    return record_main(argv)


if __name__ == "__main__":
    sys.exit(main())
