"""Load test of `lightweight-ft serve` on this machine: micro-batched serving against one request per model call.

    python bench/serve_load.py --adapter runs/minilm-serve/lora --clients 32 --seconds 60 --out runs/serve-load/minilm.json

Starts the real server (a subprocess per mode), plays `--clients` concurrent clients for `--seconds` against it with
texts from the AG News test split, and writes requests/s, texts/s, p50/p99 latency, errors and the server's resident
memory for each mode, and their ratio. The measuring code is `lightweight_ft.serving` (`nbs/05b_serving.ipynb`)."""
import argparse, shlex, sys
from pathlib import Path
from lightweight_ft.data import LABELS
from lightweight_ft.serving import read_labelled, serving_comparison
from lightweight_ft.utils import environment, write_json

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument('--adapter', required=True, help='adapter folder to serve')
ap.add_argument('--base', default=None, help='base model (default: the one the adapter records)')
ap.add_argument('--data', default='../shared/data/ag_news', help='labelled AG News file or folder whose texts the clients send')
ap.add_argument('--n-texts', type=int, default=1000, help='distinct texts sent, in turn')
ap.add_argument('--clients', type=int, default=32)
ap.add_argument('--seconds', type=float, default=60)
ap.add_argument('--per-request', type=int, default=1, help='texts per request')
ap.add_argument('--out', required=True, help='results JSON file')
a = ap.parse_args()
texts = read_labelled(a.data, LABELS)['text'][:a.n_texts]
res = serving_comparison(a.adapter, texts, a.clients, a.seconds, a.base, a.per_request)
Path(a.out).parent.mkdir(parents=True, exist_ok=True)
write_json(a.out, dict(command='python bench/serve_load.py ' + shlex.join(sys.argv[1:]), environment=environment(),
                       settings=vars(a), **res))
print(open(a.out).read())
