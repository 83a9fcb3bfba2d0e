import os
import sys
from pathlib import Path

# Tests import each other's reference implementations (e.g. the seed's bilinear_kernel).
sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("MPLBACKEND", "Agg")
