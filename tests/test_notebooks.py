"Run every notebook as a test, as `nbdev-test` does (cells flagged with `tst_flags` are skipped), one pytest case each."
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev import test as nbtest   # (imported as a module so pytest does not collect `test_nb` itself)

ROOT = Path(__file__).resolve().parent.parent
NBS = sorted((ROOT/'nbs').glob('[0-9]*.ipynb')) + [ROOT/'nbs'/'index.ipynb']

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.name)
def test_notebook(nb):
    cfg = get_config(ROOT)
    ok, secs = nbtest.test_nb(nb, skip_flags=cfg.tst_flags.split(), basepath=cfg.config_path, cell_timeout=cfg.cell_timeout)
    assert ok, f'{nb.name} failed (traceback above); rerun with `nbdev-test {nb.relative_to(ROOT)}`'
