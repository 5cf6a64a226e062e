"""Where a LoRA training step's time goes on this CPU, float32 against bf16: matrix products, and everything else.

bf16 speeds up matrix products; the rest of a step (norms, activations, rotary embeddings, casts, the adapters' small
operations, the optimizer) it does not. This script measures both parts on a real model, so that the best speed-up
bf16 can give is a number, not a guess:

1. one LoRA model per precision, the package's defaults otherwise (`load_classifier`, `add_lora`, the device policy's
   attention and padding), trained on the same length-grouped batches of the `tiny` preset (`make_trainer`'s order);
2. `--rounds` epochs per precision, taking turns, timed without the profiler (texts/s, the median over rounds);
3. after each round's timed epochs, `--profiled` batches spread over the epoch, per precision, under `torch.profiler`,
   whose own time per operation splits a step into matrix products (`aten::mm`, `bmm`, `addmm`, `baddbmm`) and the
   rest; the median share over rounds applies to the timed epochs (the profiler adds a cost to every operation, and
   the rest has far more of them, so its share is likely somewhat overstated);
4. the matrix products alone, at the model's shapes, in both precisions (GFLOP/s);
5. the arithmetic an epoch does: PyTorch's `FlopCounterMode` counts one forward and backward pass per distinct batch
   shape (matrix products, attention included), summed over the epoch's batches. Divided by the timed epochs it gives
   the FLOP/s training reaches, and against the bare products' rate, how far faster arithmetic alone could take it.

    python bench/step_split.py --model ../shared/models/smollm2-135m --data ../shared/data/ag_news \\
        --rounds 3 --out bench/results/real/cpu-2core-step-split.json
"""
import argparse, copy, json, statistics, sys, tempfile, time
from pathlib import Path
import torch
from torch.profiler import profile, ProfilerActivity
from torch.utils.flop_counter import FlopCounterMode
from lightweight_ft.benchmark import adamw, train_step
from lightweight_ft.data import load_news, quiet, select_preset, tokenize
from lightweight_ft.lora import add_lora
from lightweight_ft.models import DevicePolicy, device_policy, load_classifier, load_tokenizer
from lightweight_ft.training import TrainConfig, make_trainer
from lightweight_ft.utils import environment

MATRIX_OPS = ('aten::mm', 'aten::bmm', 'aten::addmm', 'aten::baddbmm')

def epoch_s(model, opt, batches, bf16) -> float:
    "Wall seconds of one pass of training steps over `batches`"
    t0 = time.perf_counter()
    for b in batches: train_step(model, opt, b, bf16)
    return time.perf_counter() - t0

def matrix_share(model, opt, batches, bf16) -> float:
    "Share of the profiler's own CPU time spent in matrix products over one pass"
    with profile(activities=[ProfilerActivity.CPU]) as prof: epoch_s(model, opt, batches, bf16)
    ev = prof.key_averages()
    return sum(e.self_cpu_time_total for e in ev if e.key in MATRIX_OPS) / sum(e.self_cpu_time_total for e in ev)

def epoch_flops(model, batches) -> int:
    "FLOPs of a forward and backward pass over `batches`, counted once per distinct batch shape (no optimizer step)"
    by_shape = {}
    for b in batches:
        shape = tuple(b['input_ids'].shape)
        if shape not in by_shape:
            with FlopCounterMode(display=False) as fc:
                model(**{k: b[k] for k in ('input_ids', 'attention_mask', 'labels')}).loss.backward()
            by_shape[shape] = fc.get_total_flops(); model.zero_grad(set_to_none=True)
    return sum(by_shape[tuple(b['input_ids'].shape)] for b in batches)

def gemm_gflops(m, k, n, dtype, reps=200) -> float:
    "GFLOP/s of an (m, k) @ (k, n) product in `dtype`"
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    for _ in range(10): a @ b
    t0 = time.perf_counter()
    for _ in range(reps): a @ b
    return 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', required=True); ap.add_argument('--data', required=True)
    ap.add_argument('--rounds', type=int, default=3); ap.add_argument('--out', required=True)
    ap.add_argument('--profiled', type=int, default=8, help='batches profiled per precision and round')
    argv = sys.argv[1:] if argv is None else list(argv)
    a = ap.parse_args(argv)
    quiet()
    tok = load_tokenizer(a.model)
    ds = tokenize(select_preset(load_news(a.data), 'tiny'), tok)
    base = load_classifier(a.model, tok=tok)
    models = {'float32': add_lora(copy.deepcopy(base)), 'bf16': add_lora(base, frozen_dtype=torch.bfloat16)}
    with tempfile.TemporaryDirectory() as d:
        batches = list(make_trainer(models['bf16'], tok, ds, TrainConfig(epochs=1), out=d).get_train_dataloader())
    opts = {k: adamw(m.train()) for k, m in models.items()}
    for k, m in models.items(): train_step(m, opts[k], batches[0], k == 'bf16')   # first-shape setup, untimed
    walls, shares = {k: [] for k in models}, {k: [] for k in models}
    sample = batches[::max(1, len(batches) // a.profiled)][:a.profiled]   # spread over the epoch's lengths
    for r in range(a.rounds):
        for k, m in models.items():
            walls[k].append(epoch_s(m, opts[k], batches, k == 'bf16'))
            print(f'round {r} {k}: {len(ds["train"]) / walls[k][-1]:.2f} texts/s', flush=True)
        for k, m in models.items(): shares[k].append(matrix_share(m, opts[k], sample, k == 'bf16'))
        print(f'round {r} matrix shares: {shares}', flush=True)
    share = {k: statistics.median(v) for k, v in shares.items()}
    tokens = sorted(b['input_ids'].numel() for b in batches)[len(batches) // 2]   # a median batch's tokens
    c = base.config
    kv = getattr(c, 'num_key_value_heads', c.num_attention_heads) * (c.hidden_size // c.num_attention_heads)
    shapes = {f'{tokens}x{c.hidden_size}x{n}': (tokens, c.hidden_size, n) for n in (c.intermediate_size, c.hidden_size, kv)}
    shapes[f'{tokens}x{c.intermediate_size}x{c.hidden_size}'] = (tokens, c.intermediate_size, c.hidden_size)
    gemm = {k: {name: round(gemm_gflops(*s, dtype), 1) for name, s in shapes.items()}
            for k, dtype in (('float32', torch.float32), ('bf16', torch.bfloat16))}
    step = {k: statistics.median(w) / len(batches) for k, w in walls.items()}
    split = {k: dict(step_s=step[k], matrix_s=step[k] * share[k], rest_s=step[k] * (1 - share[k]),
                     matrix_share=share[k], texts_per_s=len(ds['train']) / (step[k] * len(batches))) for k in models}
    f, b = split['float32'], split['bf16']
    flops, real = epoch_flops(models['float32'], batches), sum(int(x['attention_mask'].sum()) for x in batches)
    padded = sum(x['input_ids'].numel() for x in batches)
    bare = {k: statistics.median(g.values()) for k, g in gemm.items()}
    def rates(k):
        train = flops / 1e9 / (step[k] * len(batches))
        return dict(train_gflops=train, products_gflops_in_training=train / share[k], bare_products_gflops=bare[k],
                    train_over_bare=train / bare[k], ceiling_if_all_ran_at_bare_rate=bare[k] / train)
    arithmetic = dict(gflop_per_text=flops / 1e9 / len(ds['train']), padded_tokens_per_text=padded / len(ds['train']),
                      padded_over_real_tokens=padded / real, **{k: rates(k) for k in models})
    res = dict(what=__doc__.split('\n')[0], command=' '.join(['python', 'bench/step_split.py', *argv]),
               environment=environment(), threads=torch.get_num_threads(), policy=vars(device_policy(DevicePolicy())),
               model=a.model, texts=len(ds['train']), steps=len(batches), rounds=a.rounds, profiled_steps=a.profiled,
               walls_s=walls, matrix_shares=shares, split=split, gemm_gflops=gemm, arithmetic=arithmetic,
               bf16_vs_float32=dict(step=f['step_s'] / b['step_s'], matrix=f['matrix_s'] / b['matrix_s'],
                                    rest=f['rest_s'] / b['rest_s'],
                                    ceiling_if_rest_were_free=f['step_s'] / b['matrix_s'],
                                    rest_cut_needed_for_2x=1 - (f['step_s'] / 2 - b['matrix_s']) / b['rest_s']))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + '\n')
    print(json.dumps(dict(split=split, bf16_vs_float32=res['bf16_vs_float32'], gemm=gemm, arithmetic=arithmetic), indent=1))

if __name__ == '__main__':
    sys.exit(main())
