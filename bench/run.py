"""Speed and memory benchmark of the reference configuration against this project's defaults.

The measuring code is `lightweight_ft.benchmark` (`nbs/06_benchmark.ipynb`); this script picks the configurations,
runs each (in a fresh process on CPUs, so each peak-memory figure is that configuration's own) and writes the results.

    python bench/run.py --out bench/results/cpu-2core.json                         # 2-core CPU, ~30 min
    python bench/run.py --out bench/results/h200.json --batch-size 256 \\
        --eval-batch-size 256 --big-batch 256 --compile --seed-comparison         # GPU (bench/gpu.sh splits it in two calls)
"""
import argparse, json, os, shlex, subprocess, sys, tempfile, time, warnings
from pathlib import Path
import torch
from lightweight_ft.benchmark import (DEV, bf16_peak_tflops, measure, prepare_data, profile_top, profile_trainer, ratios, row_line,
                                      sdpa_choice, seed_comparison, tensor_peak, tensor_ratios, tensor_specs, unavailable_ratios)
from lightweight_ft.utils import environment, atomic_write
from lightweight_ft.data import quiet
from lightweight_ft.models import COMPILE_MODES, device_policy, use_bf16

VARIANTS = dict(default={}, compiled=dict(compile=True), unmerged=dict(merged_eval=False))   # of the seed comparison

def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    arg = p.add_argument
    arg('--out', default='bench/results/cpu-2core.json')
    arg('--batch-size', type=int, default=8); arg('--eval-batch-size', type=int, default=64)
    arg('--big-batch', type=int, default=64, help='batch size of the activation-dominated memory runs (256 on GPUs)')
    arg('--sweep-batch', type=int, nargs='+', default=[1, 4, 16, 32])
    arg('--sweep-len', type=int, nargs='+', default=[64, 128, 256, 512], help='padded lengths: divisors of 1,024')
    arg('--sweep-len-batch', type=int, default=8)
    arg('--compile', action='store_true', help='also time torch.compile for LoRA and full fine-tuning')
    arg('--compile-mode', choices=COMPILE_MODES, default=None, help="torch.compile's mode of the compiled rows and seed comparisons "
        "(default: the device policy's, CUDA graphs on GPUs)")
    arg('--seed-comparison', action='store_true', help="also time the package's whole seed comparison")
    arg('--seed-comparison-batch', type=int, nargs='+', default=[None], help="LoRA batch sizes of the seed comparisons; the first is the headline "
        "(default: the device's, 8 on CPUs, 32 on GPUs)")
    arg('--seed-comparison-variants', nargs='+', default=['default'], choices=list(VARIANTS),
        help="settings of each seed comparison: the package's defaults, torch.compile on (compiling included), merged evaluation off")
    arg('--tensor-memory', action='store_true', help='instead of timing: count the peak live-tensor memory of each method at batch 8 and '
        '--big-batch, fp32 and bf16, on fake tensors (seconds each)')
    arg('--profile', default=None, help='write torch.profiler tables of LoRA and full training to this file')
    arg('--malloc-mmap-threshold', type=int, default=None, help='glibc: serve allocations above this many bytes with mmap, so freed memory '
        'leaves the process at once (CPU peak memory then tracks live tensors; slows training: use it for memory runs only)')
    arg('--precision', choices=['bf16', 'fp32'], default=None, help='of the default configurations (default: bf16 on GPUs that support it, '
        'else fp32); bf16 on a CPU without bf16 units is slow, so use it there for memory questions only')
    arg('--only', nargs='+', default=None, help="measure only the configurations of these roles (e.g. reference default 'memory bs8'; "
        "none: no configuration, for a seed comparison alone)")
    arg('--tiny', action='store_true', help='2-layer model and 2 steps per configuration: checks this script, measures nothing')
    arg('--child', nargs=3, help=argparse.SUPPRESS)
    return p.parse_args(argv)

def plan(a) -> list:
    "Every configuration of one run, in order"
    cpu, prec = DEV.type == 'cpu', a.precision or ('bf16' if use_bf16() else 'fp32')
    S = dict(ref_train=3, ref_eval=4, train=12, eval=3, big=2)
    if not cpu: S = dict(ref_train=30, ref_eval=100, train=60, eval=20, big=20, cold=40)
    if a.tiny: S = {k: 2 for k in S}
    bs, ebs, big, n = a.batch_size, a.eval_batch_size, a.big_batch, S['train']
    def T(method, batch, steps, padding='dynamic', precision=prec, phase='train', **kw):
        spec = dict(method=method, phase=phase, batch_size=batch, padding=padding, precision=precision, steps=steps, grad_ckpt=False,
                    compile=False, pad_multiple=device_policy().pad_multiple, warm_shapes=not cpu)   # as the package pads; GPUs: steady state
        if method == 'lora': spec.update(dropout_on='rank', frozen_dtype='bfloat16' if precision == 'bf16' else None)   # as `compare`
        return {**spec, **kw}
    ref = dict(dropout_on='input', gelu='python', sdpa='pytorch', role='reference')
    specs = [T('lora', 1, S['ref_train'], 'pad1024', 'fp32', **ref), T('lora', 1, S['ref_eval'], 'pad1024', 'fp32', phase='eval', **ref),
             T('lora', bs, n, role='default'), T('lora', bs, n, dropout_on='input', role='peft dropout'),
             T('lora', bs, n, gelu='python', role='python gelu'), T('full', bs, n, gelu='python', role='python gelu'),
             T('full', bs, n, role='default'), T('eval_trio', ebs, S['eval'], phase='eval', role='default'),
             T('head', ebs, max(1, (256 if cpu else 1248) // ebs - 1), path='cached', role='default'),
             T('head', bs, n, path='backbone', role='head through backbone'), T('lora', bs, n, path='trainer', role='package Trainer')]
    if bs != 8: specs += [T('lora', 8, n, role='memory bs8'), T('full', 8, n, role='memory bs8')]
    for m, kw in [('lora', {}), ('lora', dict(dropout_on='input')), ('full', {}), ('lora', dict(grad_ckpt=True)), ('full', dict(grad_ckpt=True))]:
        specs.append(T(m, big, S['big'], role='memory big batch', **kw))
    if prec == 'bf16':
        specs += [T('lora', bs, n, input_cast=True, role='peft input cast'),
                  *[T('lora', b, n, frozen_dtype=None, role='fp32 backbone') for b in sorted({bs, 8})]]
    specs += [T('lora', b, max(2, n * 8 // b // 2) if cpu else n, sweep='batch', role='sweep') for b in a.sweep_batch]
    specs += [T('lora', a.sweep_len_batch, max(2, n // 3) if cpu else n, f'pad{L}', sweep='seq_len', seq_len=L, role='sweep')
              for L in a.sweep_len]
    if cpu and prec == 'bf16': specs.append(T('lora', bs, n, precision='fp32', frozen_dtype=None, role='cpu fp32'))
    if a.compile:   # last: the slowest to start
        specs += [T(m, bs, n, compile=True, compile_mode=a.compile_mode, role='compiled') for m in ('lora', 'full')]
    if not cpu or a.tiny:   # a first epoch (40 batches of 32) on shapes new to a fresh process; then steady state with PyTorch's attention
        specs += [T('lora', 32, S.get('cold', 2), role='cold shapes', warm_shapes=False, cold=True, pad_multiple=m, sdpa=s)
                  for s in (None, 'pytorch') for m in (1, 32)]
        specs.append(T('lora', bs, n, sdpa='pytorch', role='pytorch attention'))
    return [s for s in specs if not a.only or s['role'] in a.only]

def run_child(specs_file, data_file, out_file, tiny):
    "Measure the specs of `specs_file` in this process, writing each one's rows to `out_file` as it finishes"
    warnings.filterwarnings('ignore', category=FutureWarning); quiet()          # transformers' renamed-API notices
    data, rows = json.loads(Path(data_file).read_text()), []
    for spec in json.loads(Path(specs_file).read_text()):
        try: r = measure(spec, data, tiny)
        except Exception as e:                                    # one failed configuration must not lose the others
            r = {**spec, 'error': f'{type(e).__name__}: {e}'}; print('FAILED', r, file=sys.stderr)
        rows.append(r if isinstance(r, list) else [r])
        for x in rows[-1]: print(row_line(x), flush=True)
        if DEV.type == 'cuda': torch.cuda.empty_cache()
        Path(out_file).write_text(json.dumps(rows))               # after every spec: a timeout keeps what was measured

def run_all(specs, data_file, tiny, isolate, out, env=None) -> list:
    "Measure `specs`: each in a fresh process when `isolate` (CPU memory), else all in one; rows kept beside `out` until done"
    rows, parts = [], []
    with tempfile.TemporaryDirectory() as d:
        for i, g in enumerate([[s] for s in specs] if isolate else [specs]):
            sf, of = Path(d)/'specs.json', Path(out).with_name(f'{Path(out).stem}.rows{i}.json')
            sf.write_text(json.dumps(g)); parts.append(of)
            cmd = [sys.executable, __file__, '--child', str(sf), str(data_file), str(of)] + ['--tiny'] * tiny
            rc = subprocess.run(cmd, env=env).returncode
            per_spec = json.loads(of.read_text()) if of.exists() else []
            lost = [[{**s, 'error': f'process exited with {rc}'}] for s in g[len(per_spec):]]   # a crash or kill
            for r in lost: print(row_line(r[0]), flush=True)
            rows += [r for rs in per_spec + lost for r in rs]
    for f in parts: f.unlink(missing_ok=True)
    return rows

def peak_tflops(): return bf16_peak_tflops(torch.cuda.get_device_name()) if DEV.type == 'cuda' else None
def command(): return shlex.join(['python'] + sys.argv)
def model_name(a): return 'tiny 2-layer GPT-2 (script check only)' if a.tiny else 'GPT2Config() (GPT-2 small shape, random weights)'
def write(out, res): atomic_write(out, lambda f: Path(f).write_text(json.dumps(res, indent=1)))

def settings(a, data) -> dict:
    "What was measured and how, for the results file"
    lengths = [len(x) for x in data['train']['ids']]
    return dict(model=model_name(a), tokenizer=data['tokenizer'], data='AG News seed preset (1,250 train / 500 test texts)',
                mean_tokens=sum(lengths) / len(lengths), train_batch_size=a.batch_size, eval_batch_size=a.eval_batch_size,
                big_batch=a.big_batch, sweep_len_batch=a.sweep_len_batch, optimizer='AdamW',
                lora=dict(r=8, alpha=32, dropout=0.1, targets=['c_attn', 'c_proj'], dropout_on='rank (default) or input (peft, reference)',
                          frozen_dtype="bfloat16 when training in bf16 (as compare does; the 'fp32 backbone' rows keep float32), else float32"),
                peak_memory='peak above the level at the start of each configuration (before its model is built): GPU: torch peak allocation; '
                            "CPU: peak resident memory of a fresh process per configuration (the kernel's VmHWM, reset at the start)",
                flops='model FLOPs on real (unpadded) tokens: forward 24*d^2*layers per token + 4*d*layers*T^2 per sequence (+ LoRA); '
                      'LoRA training = 2x forward (no backbone weight gradients), full = 3x forward',
                bf16_peak_tflops=peak_tflops(), precision=a.precision or ('bf16' if use_bf16() else 'fp32'),
                malloc_mmap_threshold=a.malloc_mmap_threshold,
                padding='dynamic rows: each batch padded to its longest text rounded up to pad_multiple '
                        '(as the package pads: 32 on GPUs; on CPUs 8 in bf16, 1 in float32)',
                warmup="rows with warm_shapes first take one untimed step on each batch shape they time (GPUs), so they time steady state; "
                       "'cold shapes' rows (GPUs) time one epoch on shapes new to their fresh process, as a first epoch runs",
                attention=dict(sdpa_backend=sdpa_choice(), cudnn=torch.backends.cudnn.version() if DEV.type == 'cuda' else None),
                compile="compiled rows: each repeated block but the first through torch.compile, as the package trains (compile_blocks); "
                        "samples_per_s over every step with compiling included (the clock starts at the first step), "
                        "steady_samples_per_s over the steps after the warm-up ones; TorchInductor's cache starts empty "
                        "(a fresh TORCHINDUCTOR_CACHE_DIR for the run, unless one is set)",
                threads=torch.get_num_threads(), load_average_at_start=os.getloadavg()[0], command=command())

def write_tensor_memory(a, data):
    "Count each `tensor_specs` configuration's peak tensor memory; write rows, ratios and settings to `a.out`"
    rows = []
    for spec in tensor_specs(a.big_batch):
        try: rows.append({**spec, **tensor_peak(spec, data, a.tiny)})
        except Exception as e: rows.append({**spec, 'error': f'{type(e).__name__}: {e}'})
        print({k: v for k, v in rows[-1].items() if k not in ('phase', 'padding')}, flush=True)
    what = ('peak bytes of live tensor storages (weights, gradients, optimizer state, activations, temporaries) over two AdamW steps on the '
            'batch of the longest texts at each batch size, counted op by op on fake tensors: exact for these kernels, with no allocator '
            'caching or fragmentation')
    st = dict(model=model_name(a), what=what, kernels=f'{DEV.type} kernels of torch {torch.__version__}', command=command())
    env = environment()
    write(a.out, dict(device=env['device'], versions=env, settings=st, runs=rows, ratios=tensor_ratios(rows, a.big_batch)))

def write_profile(a, data):
    "torch.profiler tables of LoRA (both dropout placements), full training and LoRA through the package's `Trainer`, to `a.profile`"
    prec = a.precision or ('bf16' if use_bf16() else 'fp32')
    fd = 'bfloat16' if prec == 'bf16' else None
    txt = [f'== {m} {dict(kw)} bs={a.batch_size} {prec}\n'
           + profile_top(dict(method=m, batch_size=a.batch_size, precision=prec, **kw), data, a.tiny)
           for m, kw in [('lora', dict(frozen_dtype=fd)), ('lora', dict(dropout_on='input', frozen_dtype=fd)), ('full', {})]]
    txt.append(f"== LoRA through the package's Trainer, bs=8 {prec}, by self host time\n"
               + profile_trainer(dict(batch_size=8, frozen_dtype=fd), data, a.tiny))
    Path(a.profile).write_text('\n\n'.join(txt))
    if DEV.type == 'cuda': torch.cuda.empty_cache()                 # leave the GPU's memory to the measuring process

def main():
    a = parse()
    if a.child: return run_child(*a.child, a.tiny)
    quiet()
    with tempfile.TemporaryDirectory() as d:
        os.environ.setdefault('TORCHINDUCTOR_CACHE_DIR', str(Path(d)/'inductor'))   # compile from scratch, as a first run does
        data, t0 = prepare_data(Path(d)/'data.json'), time.perf_counter()
        if a.tensor_memory: return write_tensor_memory(a, data)
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        isolate = DEV.type == 'cpu' and not a.tiny
        if DEV.type == 'cpu' and not isolate:           # one process: freed memory must leave it
            a.malloc_mmap_threshold = a.malloc_mmap_threshold or 131072
        env = {**os.environ, 'MALLOC_MMAP_THRESHOLD_': str(a.malloc_mmap_threshold)} if a.malloc_mmap_threshold else None
        if a.profile: write_profile(a, data)           # first: seconds, and a later timeout cannot lose it
        specs, res = plan(a), dict(device=environment()['device'], versions=environment(), settings=settings(a, data), runs=[],
                                   unavailable=unavailable_ratios())
        def save(rows):                                 # after each stage, so a later timeout loses only that stage
            res.update(runs=[{k: v for k, v in r.items() if k != 'lengths'} for r in rows],    # MFU needs the lengths
                       ratios=ratios(rows, bs=a.batch_size, big=a.big_batch, peak=peak_tflops()))
            res['settings']['total_wall_s'] = time.perf_counter() - t0; write(a.out, res)
        run = lambda cold, iso: run_all([s for s in specs if bool(s.get('cold')) == cold], Path(d)/'data.json', a.tiny, iso, a.out, env)
        rows = run(False, isolate); save(rows)
        if any(s.get('cold') for s in specs): rows += run(True, True); save(rows)
        print(json.dumps(res['ratios'], indent=1), flush=True)
        if a.seed_comparison: res['seed_comparisons'] = []
        for b in a.seed_comparison_batch if a.seed_comparison else []:
            for v in a.seed_comparison_variants:
                kw = {**VARIANTS[v], **({'compile': a.compile_mode} if VARIANTS[v].get('compile') and a.compile_mode else {})}
                res['seed_comparisons'].append(dict(seed_comparison(a.tiny, b, **kw), variant=v))
                print(res['seed_comparisons'][-1], flush=True)
                res['seed_comparison'] = res['seed_comparisons'][0]; save(rows)

if __name__ == '__main__': main()
