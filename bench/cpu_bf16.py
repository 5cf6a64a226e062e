"""Are bf16 matrix products faster than float32 ones on this CPU? What the device policy decides, and the timings behind it.

Times `x @ w` at SmolLM2-135M's shapes (a batch of 8 texts of 64 tokens: 512 rows; hidden size 576, MLP 1,536), in
float32 and in bf16, the two taking turns, and a `Linear` layer under bf16 autocast against float32, as training runs
it. Some CPUs with bf16 instructions (AVX-512 BF16) run bf16 products slower than float32 ones: there the package's
default stays float32 (`cpu_bf16_faster`, `01_models`).

    OMP_NUM_THREADS=2 python bench/cpu_bf16.py --out bench/results/real/cpu-NAME-bf16-matmul.json
"""
import argparse, json, statistics, time
from pathlib import Path
import torch
from lightweight_ft.models import cpu_bf16_faster, cpu_has_bf16, device_policy
from lightweight_ft.utils import environment

SHAPES = [(512, 576, 1536), (512, 1536, 576), (512, 576, 576)]   # rows, in, out: MLP up, MLP down, attention

def seconds(f, reps) -> float:
    "Median seconds of one call of `f`, after two untimed calls"
    f(); f(); times = []
    for _ in range(reps): t0 = time.perf_counter(); f(); times.append(time.perf_counter() - t0)
    return statistics.median(times)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rounds', type=int, default=5); p.add_argument('--reps', type=int, default=20); p.add_argument('--out', required=True)
    a = p.parse_args()
    rows = []
    for m, k, n in SHAPES:
        x, w = torch.randn(m, k), torch.randn(k, n)
        xb, wb, lin = x.bfloat16(), w.bfloat16(), torch.nn.Linear(k, n)
        def autocast():
            with torch.autocast('cpu', dtype=torch.bfloat16): lin(x)
        for r in range(a.rounds):   # the precisions take turns, round by round
            t = dict(fp32=seconds(lambda: x @ w, a.reps), bf16=seconds(lambda: xb @ wb, a.reps),
                     linear_fp32=seconds(lambda: lin(x), a.reps), linear_autocast=seconds(autocast, a.reps))
            rows.append(dict(shape=[m, k, n], round=r, **{f'{key}_ms': v * 1e3 for key, v in t.items()}))
    speed = lambda s, f, b: statistics.median(r[f] / r[b] for r in rows if r['shape'] == list(s))
    res = dict(what=__doc__.split('\n')[0], versions=environment(), threads=torch.get_num_threads(),
               cpu_has_bf16=cpu_has_bf16(), cpu_bf16_faster=cpu_bf16_faster(), policy=str(device_policy()),
               bf16_vs_fp32_matmul_speed={str(s): speed(s, 'fp32_ms', 'bf16_ms') for s in SHAPES},
               autocast_vs_fp32_linear_speed={str(s): speed(s, 'linear_fp32_ms', 'linear_autocast_ms') for s in SHAPES}, rows=rows)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    print(json.dumps({k: v for k, v in res.items() if k != 'rows'}, indent=1))

if __name__ == '__main__': main()
