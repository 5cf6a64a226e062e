"""Execute notebooks in place so their committed outputs are fresh: `python tools/run_notebooks.py [--slow] nbs/01_models.ipynb ...`

Cells flagged `#| slow` run only with `--slow` (they need the real models: set LWFT_LOCAL=1 to use local copies); otherwise
they keep the outputs they have.
Progress bars are off (TQDM_DISABLE) and library deprecation warnings are filtered, so outputs show only what matters;
progress-bar text left in older outputs is removed."""
import argparse, os, re, sys
from pathlib import Path
os.environ.update(TQDM_DISABLE='1', TOKENIZERS_PARALLELISM='false', PYTHONWARNINGS='ignore::FutureWarning')
from fastcore.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

QUIET = "import warnings; warnings.filterwarnings('ignore', category=FutureWarning); warnings.filterwarnings('ignore', category=DeprecationWarning)"
NOISE = re.compile(r'\r|\d+%\|[#█ ]*\||FutureWarning|DeprecationWarning|warnings\.warn\(')

def is_slow(cell): return re.search(r'^#\|\s*slow', cell.source, re.M) is not None

def clean(cell):
    "Drop stderr outputs that are progress bars or deprecation warnings"
    cell.outputs = [o for o in cell.get('outputs', []) if not (o.get('name') == 'stderr' and NOISE.search(''.join(o.get('text', ''))))]

def run(path, slow=False):
    nb, shell = read_nb(path), CaptureShell()
    os.chdir(Path(path).resolve().parent)
    shell.run(QUIET)
    for cell in nb.cells:
        if cell.cell_type != 'code' or (is_slow(cell) and not slow): continue
        shell.cell(cell)
        if any(o.get('output_type') == 'error' for o in cell.outputs):
            sys.exit(f"{path}: a cell failed:\n{cell.source[:500]}\n" + '\n'.join(o.get('evalue', '') for o in cell.outputs))
    for cell in nb.cells:
        if cell.cell_type == 'code': clean(cell)
    write_nb(nb, path)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='+'); ap.add_argument('--slow', action='store_true', help='run the #| slow cells too')
    a = ap.parse_args()
    home = os.getcwd()
    for p in a.notebooks:
        os.chdir(home); print('running', p, flush=True); run(Path(p).resolve(), a.slow)
