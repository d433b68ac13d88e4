import subprocess
import sys

sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "tests"]))
