"""Stand-in for the pip bootstrap script ansible-test downloads from its own file server.

ansible-test creates its sanity virtualenvs without pip and runs a cached ``get-pip.py`` to put
pip in them; that server is out of reach here, PyPI is not. This script takes the same command
line as ``get-pip.py`` (pip install arguments plus ``--no-setuptools`` / ``--no-wheel``), seeds pip
from the interpreter's own ``ensurepip`` and then lets that pip install the exact versions
ansible-test asked for. scripts/setup copies it to the cache path ansible-test looks up.
"""

import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main() -> None:
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade", *args])


if __name__ == "__main__":
    main()
