"`make run` on the tiny GPT-2: it trains, saves the adapter and report, then classifies the example headlines with the saved adapter."
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def test_make_run_tiny(tmp_path):
    from lightweight_ft.data import load_news, select_preset, shared_dir, toy_news
    from lightweight_ft.models import tiny_gpt2
    tiny = tiny_gpt2(tmp_path/'tiny')
    sd = shared_dir()
    news = select_preset(load_news(sd/'data'/'ag_news') if sd else toy_news(300, 150), 'tiny')
    for split, n in (('train', 64), ('test', 32)): news[split].select(range(n)).to_json(tmp_path/'data'/f'{split}.jsonl')
    venv = Path(sys.executable).parent.parent      # the environment running the tests: `make` must not build another
    out = tmp_path/'run'
    r = subprocess.run(['make', '--no-print-directory', '-o', f'{venv}/.installed', 'run', f'VENV={venv}', f'MODEL={tiny}', f'DATA={tmp_path/"data"}',
                        'PRESET=tiny', f'OUT={out}', 'ARGS=--methods lora --epochs 1'], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert json.loads((out/'records'/'lora.json').read_text())['n_train'] == 64              # it trained
    assert (out/'lora'/'adapter_model.safetensors').is_file() and (out/'results.md').is_file()  # and saved
    shown = r.stdout.split('on the headlines in ', 1)[1]
    src = ROOT/shown.split(':', 1)[0]
    heads = [json.loads(l)['text'] if l.startswith('{') else l.strip() for l in src.read_text().splitlines() if l.strip()]
    preds = [l.split('\t') for l in shown.splitlines()[1:] if l.count('\t') == 2]
    assert [p[2] for p in preds] == heads and all(p[0] in ('World', 'Sports', 'Business', 'Sci/Tech') for p in preds)   # and predicted
    assert f'lightweight-ft predict --adapter {out}/lora' in r.stdout and f'{out}/results.md' in r.stdout
