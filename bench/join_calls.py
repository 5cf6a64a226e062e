"""One results file from the calls of `bench/gpu_check.sh`: a compile check and `bench/run.py` calls on the same machine.

Every ratio stays the one its own call computed (`ratio_call` says which call): no ratio divides rows of two calls.
A ratio two calls both computed is taken from the first call named. Each call's rows, settings and seed comparisons are
kept under `calls`.

    python bench/join_calls.py --out gpu-check.json eager=h200-eager.json compiled=h200-compiled.json --check compile-check-*.json \
        --smoke compile-smoke.json
"""
import argparse, json
from pathlib import Path

def read(path):
    "A JSON file's content, or the reason it is missing (a stage that timed out writes none)"
    p = Path(path)
    return json.loads(p.read_text()) if p.is_file() else dict(error=f'{p.name} was not written (its stage failed, ran out of time or was not run)')

def join(calls: dict, checks=(), smoke=None) -> dict:
    "The calls' results side by side, with their ratios in one table and the call each ratio comes from"
    res, ratios, ratio_call = dict(calls={}), {}, {}
    for name, path in calls.items():
        r = read(path); res['calls'][name] = r
        for k, v in (r.get('ratios') or {}).items():
            if v is not None and k not in ratios: ratios[k], ratio_call[k] = v, name
        for k in ('device', 'versions', 'unavailable'):
            if res.get(k) is None: res[k] = r.get(k)
    seeds = [dict(s, call=n) for n, r in res['calls'].items() for s in r.get('seed_comparisons', [])]
    return dict(res, ratios=ratios, ratio_call=ratio_call, seed_comparisons=seeds,
                compile_checks={Path(c).stem: read(c) for c in checks},   # one per torch.compile mode
                compile_smoke=read(smoke) if smoke else None)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('calls', nargs='+', help='name=results.json for each bench/run.py call, in order')
    p.add_argument('--check', nargs='*', default=[], help="bench/compile_check.py's files")
    p.add_argument('--smoke', help="bench/compile_smoke.py's file")
    p.add_argument('--out', required=True)
    a = p.parse_args()
    res = join(dict(c.split('=', 1) for c in a.calls), a.check, a.smoke)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(dict(ratios=res['ratios'], seed_comparisons=[{k: v for k, v in s.items() if k != 'parts'} for s in res['seed_comparisons']],
                          compile_checks=res['compile_checks'], compile_smoke=res['compile_smoke']), indent=1))
