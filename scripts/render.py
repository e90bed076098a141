"""Record episodes to MP4 or GIF: of any BrainSet env with a random or ground-truth policy, or of a
trained agent from its run folder.

    python scripts/render.py --env BrainSet/OrientationDiscrimination-v0 --episodes 5 --out runs/o.mp4
    python scripts/render.py --env BrainSet/PatchForaging-v0 --policy oracle --out runs/pf.gif
    python scripts/render.py --env ... --kwargs '{"trials_per_episode": 10}'
    python scripts/render.py --checkpoint runs/<run folder> [--which best|last] [--episodes 8]

The work is in brainset_envs.recording.main (an env) and agents.cli.render_main (a trained agent); the
choice between them in brainset_envs.cli.render_main (also ``brainset render``).
"""

import sys

from brainset_envs.cli import render_main as main

if __name__ == "__main__":
    sys.exit(main())
