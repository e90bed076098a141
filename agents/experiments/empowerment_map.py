"""Save the true n-step empowerment map of a grid layout as a PNG.

    python scripts/empowerment_map.py                                  # Klyubin maze, n = 5
    python scripts/empowerment_map.py --layout four_rooms --n 3 --out runs/four_rooms_e3.png
    python scripts/empowerment_map.py --noise 0.1 --n 3                # Blahut-Arimoto with action noise
"""

from __future__ import annotations

import argparse

from brainset_envs.analysis.empowerment_plot import save_empowerment_png


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layout", default="klyubin", help="layout name (see brainset_envs.core.layouts)")
    p.add_argument("--n", type=int, default=5, help="horizon in steps")
    p.add_argument("--noise", type=float, default=0.0, help="action noise p")
    p.add_argument("--out", default="assets/klyubin_empowerment.png", help="PNG path")
    args = p.parse_args(argv)

    print(save_empowerment_png(args.out, args.layout, args.n, args.noise))
