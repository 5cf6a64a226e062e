"Checks on the repository itself: the README is the rendered index notebook, and the package matches the notebooks."
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def test_readme_is_index_notebook():
    new = subprocess.run([sys.executable, 'tools/make_readme.py', '--stdout'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert new == (ROOT/'README.md').read_text(), 'README.md is stale: run `make readme` (it renders nbs/index.ipynb)'

def test_cli_help():
    r = subprocess.run([str(Path(sys.executable).parent/'lightweight-ft'), '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'compare' in r.stdout and 'predict' in r.stdout
