"""Start a real centre (uvicorn) for the end-to-end tests: ``python -m tests.e2e.run_centre
HOME DB_URL PORT KEY_FILE``."""

import sys
from pathlib import Path

from station.centre.keys import Protector
from station.centre.serve import CentreConfig, serve

if __name__ == "__main__":
    home, db, port, key_file = sys.argv[1:5]
    serve(CentreConfig(Path(home), db=db, host="127.0.0.1", port=int(port),
                       protector=Protector(key_file=Path(key_file))))
