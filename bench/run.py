"""Speed and memory benchmark of the reference configuration against this project's defaults.

GPT-2 small's exact shape (`GPT2Config()`, random weights: speed only, never accuracy), the real GPT-2
tokenizer and real AG News texts (from `shared/`, else the hub). One run on one machine measures:
(a) the reference: batch 1, every text padded to 1,024 tokens, fp32; (b) the defaults: batches padded to
their own longest text, length-grouped, bf16 autocast on GPUs; for head-only, LoRA and full fine-tuning;
plus LoRA training throughput and peak memory against batch size and sequence length.

    python bench/run.py --out bench/results/cpu-2core.json
"""
import argparse, json, math, time
from pathlib import Path
import numpy as np, torch
from transformers import GPT2Config, GPT2ForSequenceClassification, set_seed
from lightweight_ft.data import shared_dir, load_news, select_preset, tokenize, quiet
from lightweight_ft.models import load_tokenizer, gpt2_tokenizer_source, count_params, use_bf16
from lightweight_ft.lora import add_lora
from lightweight_ft.head import freeze_backbone, pooled_features, fit_head
from lightweight_ft.compare import PeakMemory, environment
from lightweight_ft.models import TrainConfig

DEV = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
BF16 = use_bf16()

def gpt2_small(tok):
    set_seed(0)
    return GPT2ForSequenceClassification(GPT2Config(num_labels=4, pad_token_id=tok.pad_token_id)).to(DEV)

def make_batches(ds, bs, pad_to=None, n=None):
    "Batches of `bs` texts: padded to `pad_to`, or length-grouped and padded to their own longest"
    ids, labels = list(ds['input_ids']), list(ds['label'])
    order = np.arange(len(ids)) if pad_to else np.argsort([len(x) for x in ids], kind='stable')
    chunks = [order[i:i + bs] for i in range(0, len(order) - bs + 1, bs)]
    if not pad_to: np.random.default_rng(0).shuffle(chunks)   # length-grouped, in random order
    out = []
    for c in chunks[:n]:
        L = pad_to or max(len(ids[i]) for i in c)
        x = torch.full((len(c), L), PAD, dtype=torch.long); m = torch.zeros_like(x)
        for r, i in enumerate(c):
            t = ids[i][:L]; x[r, :len(t)] = torch.tensor(t); m[r, :len(t)] = 1
        out.append(dict(input_ids=x.to(DEV), attention_mask=m.to(DEV), labels=torch.tensor([labels[i] for i in c]).to(DEV)))
    return out

def sync():
    if DEV.type == 'cuda': torch.cuda.synchronize()

def autocast(): return torch.autocast(DEV.type, dtype=torch.bfloat16, enabled=BF16)

def time_train(model, batches, warmup=1):
    "Samples/s, peak memory and wall time of optimizer steps over `batches` (after `warmup` untimed steps)"
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    def step(b):
        with autocast(): loss = model(**b).loss
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    for b in batches[:warmup]: step(b)
    sync()
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        for b in batches[warmup:]: step(b)
        sync(); wall = time.perf_counter() - t0
    n = sum(len(b['labels']) for b in batches[warmup:])
    return dict(samples_per_s=n / wall, peak_mem_gib=mem.gib, wall_s=wall, samples=n)

@torch.no_grad()
def time_eval(model, batches, warmup=1):
    model.eval()
    for b in batches[:warmup]:
        with autocast(): model(**b)
    sync()
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        for b in batches[warmup:]:
            with autocast(): model(**b)
        sync(); wall = time.perf_counter() - t0
    n = sum(len(b['labels']) for b in batches[warmup:])
    return dict(samples_per_s=n / wall, peak_mem_gib=mem.gib, wall_s=wall, samples=n)

def run(args):
    global PAD, BF16
    quiet()
    tok = load_tokenizer(gpt2_tokenizer_source()); PAD = tok.pad_token_id
    sd = shared_dir()
    ds = tokenize(select_preset(load_news(sd/'data'/'ag_news' if sd else 'ag_news'), 'seed'), tok)
    cpu = DEV.type == 'cpu'
    S = dict(ref_train=3 if cpu else 30, ref_eval=4 if cpu else 100, train=12 if cpu else 60, eval=8 if cpu else 8)
    bs, ebs = args.batch_size, args.eval_batch_size
    runs, prec = [], 'bf16' if BF16 else 'fp32'
    def add(method, phase, batch, padding, precision, r, **kw):
        runs.append(dict(method=method, phase=phase, batch_size=batch, precision=precision, padding=padding, **r, **kw))
        print(f"{method:8} {phase:5} bs={batch:<4} {padding:8} {precision}: {r['samples_per_s']:8.1f} samples/s  peak {r['peak_mem_gib']:.2f} GiB", flush=True)

    # (a) the reference configuration: batch 1, pad to 1024, fp32, LoRA
    keep, BF16 = BF16, False
    m = add_lora(gpt2_small(tok))
    add('lora', 'train', 1, 'pad1024', 'fp32', time_train(m, make_batches(ds['train'], 1, 1024, S['ref_train'] + 1)))
    add('lora', 'eval', 1, 'pad1024', 'fp32', time_eval(m, make_batches(ds['test'], 1, 1024, S['ref_eval'] + 1)))
    BF16 = keep; del m

    # (b) the defaults: dynamic padding, length-grouped batches
    m = add_lora(gpt2_small(tok))
    add('lora', 'train', bs, 'dynamic', prec, time_train(m, make_batches(ds['train'], bs, None, S['train'] + 1)))
    eval_batches = make_batches(ds['test'], ebs, None, S['eval'] + 1)
    add('lora', 'eval', ebs, 'dynamic', prec, time_eval(m, eval_batches))
    # merged inference: after merge_and_unload the model is a plain GPT-2, so it should cost what the base model costs
    add('merged', 'eval', ebs, 'dynamic', prec, time_eval(m.merge_and_unload(), eval_batches))
    del m
    add('base', 'eval', ebs, 'dynamic', prec, time_eval(gpt2_small(tok), eval_batches))
    m = gpt2_small(tok)
    add('full', 'train', bs, 'dynamic', prec, time_train(m, make_batches(ds['train'], bs, None, S['train'] + 1)))
    del m
    # head-only on cached features: one forward pass over the training texts, then the head alone
    m = freeze_backbone(gpt2_small(tok)); n = min(len(ds['train']), 256 if cpu else len(ds['train']))
    sub = ds['train'].select(range(n))
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        f = pooled_features(m, tok, sub, ebs); t_feat = time.perf_counter() - t0
        fit_head(m, f, sub['label'], TrainConfig(epochs=3, batch_size=1)); wall = time.perf_counter() - t0
    add('head', 'train', 1, 'dynamic', prec, dict(samples_per_s=3 * n / wall, peak_mem_gib=mem.gib, wall_s=wall, samples=3 * n),
        note=f'3 epochs on cached features; feature pass {t_feat:.1f} s for {n} texts')
    del m

    # sweeps: LoRA training against batch size (real lengths) and sequence length (batch size fixed)
    m = add_lora(gpt2_small(tok))
    for b in args.sweep_batch:
        add('lora', 'train', b, 'dynamic', prec, time_train(m, make_batches(ds['train'], b, None, max(2, S['train'] * bs // b // 2) + 1)), sweep='batch')
    for L in args.sweep_len:
        add('lora', 'train', bs, f'pad{L}', prec, time_train(m, make_batches(ds['train'], bs, L, max(2, S['train'] // 3) + 1)), sweep='seq_len', seq_len=L)
    del m

    get = lambda **kw: next(r for r in runs if all(r.get(k) == v for k, v in kw.items()))
    ref_t, ref_e = get(padding='pad1024', phase='train'), get(padding='pad1024', phase='eval')
    lt, le, ft = get(method='lora', phase='train', batch_size=bs, padding='dynamic'), get(method='lora', phase='eval', padding='dynamic'), get(method='full', phase='train')
    ratios = dict(lora_train_vs_reference=lt['samples_per_s'] / ref_t['samples_per_s'], eval_vs_reference=le['samples_per_s'] / ref_e['samples_per_s'],
                  lora_vs_full_train_speed=lt['samples_per_s'] / ft['samples_per_s'], lora_vs_full_peak_mem_bs8=lt['peak_mem_gib'] / ft['peak_mem_gib'],
                  merged_vs_base_eval_speed=get(method='merged')['samples_per_s'] / get(method='base')['samples_per_s'],
                  lora_unmerged_vs_base_eval_speed=le['samples_per_s'] / get(method='base')['samples_per_s'])
    lengths = np.array(ds['train']['length'])
    settings = dict(model='GPT2Config() (GPT-2 small shape, random weights)', tokenizer=gpt2_tokenizer_source(), data='AG News seed preset',
                    train_batch_size=bs, eval_batch_size=ebs, mean_tokens=float(lengths.mean()), optimizer='AdamW',
                    peak_memory='GPU: torch max allocated; CPU: process peak RSS (includes model and Python)', lora=dict(r=8, alpha=32, dropout=0.1, targets=['c_attn', 'c_proj']))
    res = dict(device=environment()['device'], versions=environment(), settings=settings, runs=runs, ratios=ratios)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(ratios, indent=1))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='bench/results/cpu-2core.json')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--eval-batch-size', type=int, default=64)
    p.add_argument('--sweep-batch', type=int, nargs='+', default=[1, 4, 16, 32])
    p.add_argument('--sweep-len', type=int, nargs='+', default=[64, 128, 256, 512])
    run(p.parse_args())
