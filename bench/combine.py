"""One results file from two calls of bench/run.py on the same GPU machine: a headline call and an extras call.

A lent GPU gives a few minutes per call, so `bench/gpu.sh` measures the headline configurations (reference, defaults,
batch 8, attention kernels, cold shapes, whole seed comparison) in one `run.py` call and the rest (GELU as published,
peft's adapter input cast, dropout placement, big-batch memory, gradient checkpointing, Trainer path, sweeps,
torch.compile) in a second. Every ratio is still computed inside one
call: the headline call's ratios, plus those the extras call can compute from its own rows. The extras' rows of a
role the headline call measured are dropped (the headline's figures stand), so no ratio mixes the two calls.

    python bench/combine.py HEADLINE.json EXTRAS.json --out bench/results/h200.json
    python bench/combine.py bench/results/raw/h200-call2.json bench/results/raw/h200-call1.rows.json \\
        --extras-batch-size 256 --extras-big-batch 256 --out bench/results/h200.json
EXTRAS may be a results file or the `<out>.rows0.json` rows a timed-out call left (its settings given by the flags).
"""
import argparse, json
from pathlib import Path
from lightweight_ft.benchmark import ratios

def extras_rows(path):
    "Rows and settings of an extras call: a results file, or the per-spec rows file of a call that timed out"
    d = json.loads(Path(path).read_text())
    if isinstance(d, dict): return d['runs'], d['settings']
    return [r for rs in d for r in rs], None

def combine(headline, extras, a) -> dict:
    "The headline results with the extras call's rows of other roles, and the ratios those rows give on their own"
    res = json.loads(Path(headline).read_text())
    rows, xs = extras_rows(extras)
    mine = {r.get('role') for r in res['runs']}
    rows = [dict(r, call='extras') for r in rows if r.get('role') not in mine]
    ctx = dict(bs=xs['train_batch_size'] if xs else a.extras_batch_size, big=xs['big_batch'] if xs else a.extras_big_batch,
               peak=res['settings']['bf16_peak_tflops'])
    extra_ratios = {k: v for k, v in ratios(rows, **ctx).items() if v is not None and res['ratios'].get(k) is None}
    for r in rows: r.pop('lengths', None)
    res['runs'] = [dict(r, call='headline') for r in res['runs']] + rows
    res['ratios'] = {**{k: v for k, v in res['ratios'].items() if v is not None}, **extra_ratios}
    res['ratio_call'] = {k: 'extras' if k in extra_ratios else 'headline' for k in res['ratios']}
    res['settings']['sweep_len_batch'] = xs['sweep_len_batch'] if xs else a.extras_sweep_len_batch
    res['settings']['calls'] = dict(headline=str(headline), extras=str(extras), note=a.note)
    return res

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('headline'); p.add_argument('extras')
    p.add_argument('--out', required=True)
    p.add_argument('--extras-batch-size', type=int, default=256, help='for a rows file: the --batch-size of its call')
    p.add_argument('--extras-big-batch', type=int, default=256, help='for a rows file: the --big-batch of its call')
    p.add_argument('--extras-sweep-len-batch', type=int, default=32, help='for a rows file: the --sweep-len-batch of its call')
    p.add_argument('--note', default='', help='what to know about these two calls')
    a = p.parse_args()
    res = combine(a.headline, a.extras, a)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res['ratios'], indent=1))
