"""The documentation site, generated from the code and built strictly with MkDocs (``make docs``).

Every option: ``--help``. The work is in ``agents.experiments.docs_site`` (also ``brainset docs``)."""

import sys

from agents.experiments.docs_site import main

if __name__ == "__main__":
    sys.exit(main())
