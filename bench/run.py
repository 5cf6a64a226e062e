"""Speed and memory benchmark of the reference configuration against this project's defaults.

GPT-2 small's exact shape (`GPT2Config()`, random weights: speed only, never accuracy), the real GPT-2
tokenizer and real AG News texts (from `shared/`, else the hub). One run on one machine measures:
(a) the reference: LoRA, batch 1, every text padded to 1,024 tokens, fp32;
(b) the defaults: batches grouped by length and padded to their own longest text (rounded up to a multiple of 32 on
    GPUs, as the package pads), bf16 autocast on GPUs (LoRA's
    frozen weights stored in bf16 there), LoRA dropout on the rank side; for head-only (cached features), LoRA and full fine-tuning;
plus peft's dropout placement, gradient checkpointing, merged inference, the package's own `Trainer`
path, and LoRA throughput and peak memory against batch size and sequence length.

    python bench/run.py --out bench/results/cpu-2core.json                         # 2-core CPU, ~30 min
    python bench/run.py --out bench/results/h200.json --batch-size 256 \\
        --eval-batch-size 256 --big-batch 256 --compile --seed-comparison         # GPU (bench/gpu.sh splits it in two calls)

Every configuration runs in a fresh process on CPUs, so each peak-memory figure is that configuration's own
(peak resident memory minus the memory before its model was built); on GPUs it is torch's peak allocation above
its level before the model was built.
"""
import argparse, contextlib, gc, json, math, os, shlex, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from lightweight_ft.models import GroupedByLength, TrainConfig, attention_kernels, compute_device, shortest_first, use_bf16, fuse_gelu
from lightweight_ft.compare import PeakMemory
from lightweight_ft.lora import add_lora, keep_adapter_inputs

DEV = compute_device()
# Dense bf16 peak FLOP/s (no sparsity) by device name, from the vendors' datasheets; first match wins.
BF16_PEAK_TFLOPS = [('H200', 989.4), ('H100 PCIe', 756.5), ('H100 NVL', 835.5), ('H100', 989.4), ('A100', 312.0),
                    ('L40S', 362.1), ('L4', 121.0), ('A10', 125.0)]

def bf16_peak_tflops(device: str):
    "Dense bf16 peak of a GPU named `device`, or None"
    return next((v for k, v in BF16_PEAK_TFLOPS if k in device), None)

# ---- FLOP count (model FLOPs: real tokens only, padding excluded) ----
def forward_flops(lengths, n_layer=12, d=768) -> float:
    "Forward FLOPs of GPT-2 (matmuls and attention scores) over sequences of `lengths` real tokens"
    tokens, sq = float(np.sum(lengths)), float(np.sum(np.square(lengths, dtype=np.float64)))
    return 2 * 12 * d * d * n_layer * tokens + 4 * d * n_layer * sq   # qkv 3d^2 + proj d^2 + mlp 8d^2; QK^T and AV

GPT2_LORA_DIMS = [(768, 2304), (768, 768), (3072, 768)]       # c_attn, attn c_proj, mlp c_proj

def lora_forward_flops(lengths, r=8, dims=GPT2_LORA_DIMS, n_layer=12) -> float:
    "Forward FLOPs of the adapters alone (A then B on every adapted layer)"
    return 2 * r * sum(i + o for i, o in dims) * n_layer * float(np.sum(lengths))

def train_flops(lengths, method) -> float:
    "Training FLOPs: full = 3x forward (input and weight gradients); LoRA = 2x the frozen forward (input gradients only) + 3x its adapters"
    return 3 * forward_flops(lengths) if method == 'full' else 2 * forward_flops(lengths) + 3 * lora_forward_flops(lengths)

# ---- data ----
def prepare_data(path):
    "Tokenise the seed preset once; children read the token ids from `path`"
    from lightweight_ft.data import shared_dir, load_news, select_preset, tokenize, quiet
    from lightweight_ft.models import load_tokenizer, gpt2_tokenizer_source
    quiet()
    tok = load_tokenizer(gpt2_tokenizer_source())
    sd = shared_dir()
    ds = tokenize(select_preset(load_news(sd/'data'/'ag_news' if sd else 'ag_news'), 'seed'), tok)
    d = dict(pad=tok.pad_token_id, tokenizer=gpt2_tokenizer_source(),
             **{s: dict(ids=list(ds[s]['input_ids']), labels=list(ds[s]['label'])) for s in ('train', 'test')})
    Path(path).write_text(json.dumps(d))
    return d

def make_batches(split, bs, pad, n, pad_to=None, seed=TrainConfig.seed, multiple=1, train=True):
    "`n` batches of `bs` texts. With `pad_to` (the reference): whole batches in the file's order, padded to `pad_to`. Else as the package makes them, padded to their longest rounded up to `multiple`: training batches from `GroupedByLength` (the longest first, epoch after epoch); evaluation batches of the texts sorted by length, as `evaluate` does, taken in a seeded random order (so fewer steps than batches still span the lengths)"
    ids, labels = split['ids'], split['labels']
    if pad_to: chunks = [list(range(i, min(i + bs, len(ids)))) for i in range(0, max(len(ids) - bs + 1, 1), bs)] * n
    elif not train:
        order = shortest_first([len(x) for x in ids]).tolist()
        chunks = [order[i:i + bs] for i in range(0, len(order), bs)]
        chunks = [chunks[k] for k in np.random.default_rng(seed).permutation(len(chunks))] * n
    else:
        sampler, chunks, epoch = GroupedByLength([len(x) for x in ids], bs, seed), [], 0
        while len(chunks) < n: chunks += sampler.batches(epoch); epoch += 1
    out = []
    for c in chunks[:n]:
        L = pad_to or -(-max(len(ids[i]) for i in c) // multiple) * multiple
        x = torch.full((len(c), L), pad, dtype=torch.long); m = torch.zeros_like(x)
        for r, i in enumerate(c):
            t = ids[i][:L]; x[r, :len(t)] = torch.tensor(t); m[r, :len(t)] = 1
        out.append(dict(input_ids=x.to(DEV), attention_mask=m.to(DEV), labels=torch.tensor([labels[i] for i in c]).to(DEV),
                        lengths=[min(len(ids[i]), L) for i in c]))
    return out

# ---- measurement ----
class Peak(PeakMemory):
    "The package's `PeakMemory`, after a garbage collection; `.added_gib`: the block's peak above its start (torch's allocation on GPUs, RSS on CPUs)"
    def __enter__(self):
        gc.collect()
        if DEV.type == 'cuda': torch.cuda.empty_cache()
        return super().__enter__()
    @property
    def added_gib(self): return self.gib - self.start_gib

def sync():
    if DEV.type == 'cuda': torch.cuda.synchronize()

def gpt2_small(pad, tiny=False, gelu='fused'):
    "GPT-2 small's shape with random weights (a 2-layer, 64-wide one if `tiny`), as a 4-class classifier on the device; its GELU `fused` as `load_classifier` does, or `python` as published"
    from transformers import GPT2Config, GPT2ForSequenceClassification, set_seed
    set_seed(0)
    kw = dict(n_layer=2, n_embd=64, n_head=2) if tiny else {}
    m = GPT2ForSequenceClassification(GPT2Config(num_labels=4, pad_token_id=pad, **kw))
    return (fuse_gelu(m) if gelu == 'fused' else m).to(DEV)

def build(spec, pad, tiny):
    "The model a spec asks for: base, LoRA (dropout on `rank` or `input`) or full, optionally checkpointed/compiled"
    from lightweight_ft.head import freeze_backbone
    m = gpt2_small(pad, tiny, spec.get('gelu', 'fused'))
    if spec.get('grad_ckpt') and hasattr(m, 'activation_checkpointing_enable'):   # the newer name in transformers 5
        m.activation_checkpointing_enable(activation_checkpointing_kwargs=dict(use_reentrant=False))
    elif spec.get('grad_ckpt'): m.gradient_checkpointing_enable(gradient_checkpointing_kwargs=dict(use_reentrant=False))
    if spec['method'] == 'lora': m = add_lora(m, dropout_on=spec.get('dropout_on', 'rank'), frozen_dtype=spec.get('frozen_dtype'))
    if spec['method'] == 'head': freeze_backbone(m)
    if spec.get('input_cast'): keep_adapter_inputs(m, keep=False)   # peft's cast of each adapter input to float32, which `add_lora` turns off with bf16 frozen weights
    return m

def autocast(bf16): return torch.autocast(DEV.type, dtype=torch.bfloat16, enabled=bf16)

def train_step(model, opt, b, bf16):
    "One optimizer step of `model` on batch `b`"
    with autocast(bf16): loss = model(input_ids=b['input_ids'], attention_mask=b['attention_mask'], labels=b['labels']).loss
    loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)

def timed(step, batches, warmup) -> float:
    "Wall seconds of `step(b)` over `batches` after `warmup` untimed calls"
    for b in batches[:warmup]: step(b)
    sync(); t0 = time.perf_counter()
    for b in batches[warmup:]: step(b)
    sync(); return time.perf_counter() - t0

def time_train(model, batches, bf16, warmup, compile=False):
    "Samples/s and wall time of optimizer steps over `batches` after `warmup` untimed ones"
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    fwd = torch.compile(model, dynamic=True) if compile else model   # one graph for every batch length
    wall, timed_b = timed(lambda b: train_step(fwd, opt, b, bf16), batches, warmup), batches[warmup:]
    n = sum(len(b['labels']) for b in timed_b)
    return dict(samples_per_s=n / wall, wall_s=wall, samples=n, lengths=[l for b in timed_b for l in b['lengths']],
                tokens_padded=sum(b['input_ids'].numel() for b in timed_b), tokens=sum(sum(b['lengths']) for b in timed_b))

@torch.no_grad()
def time_eval(model, batches, bf16, warmup):
    "Samples/s and wall time of forward passes over `batches` after `warmup` untimed ones"
    model.eval()
    def step(b):
        with autocast(bf16): model(input_ids=b['input_ids'], attention_mask=b['attention_mask'])
    wall = timed(step, batches, warmup)
    n = sum(len(b['labels']) for b in batches[warmup:])
    return dict(samples_per_s=n / wall, wall_s=wall, samples=n)

def measure(spec, data, tiny=False):
    "Run one configuration under the attention kernels it names (`sdpa_backends`); returns its row for the results file"
    with sdpa_backends(spec.get('sdpa')): return measure_row(spec, data, tiny)

def measure_row(spec, data, tiny):
    "One configuration's row"
    if spec.get('path') in ('cached', 'trainer'):           # the package's own code paths, on a `Dataset`
        with Peak() as mem: r = (time_head if spec['path'] == 'cached' else time_trainer)(spec, data, tiny)
        return {**spec, **r, 'peak_mem_gib': mem.added_gib}
    bf16 = spec['precision'] == 'bf16'
    batches, warm = row_batches(spec, data)
    if spec['method'] == 'eval_trio': return time_eval_trio(spec, batches, data, bf16, tiny, warm)
    with Peak() as mem:
        model = build(spec, data['pad'], tiny)
        r = time_train(model, batches, bf16, warm, spec.get('compile', False)) if spec['phase'] == 'train' else time_eval(model, batches, bf16, warm)
    return {**spec, **r, 'warmup_steps': warm, 'shapes': len({tuple(b['input_ids'].shape) for b in batches[warm:]}), 'peak_mem_gib': mem.added_gib}

def row_batches(spec, data) -> tuple:
    "`(batches, warm)`: the batches a row runs, of which the first `warm` are untimed warm-up steps"
    train = spec['phase'] == 'train'
    make = lambda n, **kw: make_batches(data['train' if train else 'test'], spec['batch_size'], data['pad'], n, train=train, **kw)
    pad_to = int(spec['padding'][3:]) if spec['padding'].startswith('pad') else None
    warm = 3 if spec.get('compile') or DEV.type == 'cuda' else 1
    if spec.get('cold'): lead, timed = make(warm, pad_to=8), make(spec['steps'], multiple=spec['pad_multiple'])   # warm-up on a shape outside the timed set
    else:
        b = make(spec['steps'] + warm, pad_to=pad_to, multiple=spec.get('pad_multiple', 1))
        lead, timed = b[:warm], b[warm:]
    if spec.get('warm_shapes'): lead = shape_warmup(timed) + lead       # one untimed step on each timed shape first
    return lead + timed, len(lead)

def shape_warmup(batches) -> list:
    "One batch of each shape in `batches`: untimed steps on them first leave only steady-state steps to time (on GPUs a new shape costs extra, once)"
    seen = {}
    for b in batches: seen.setdefault(tuple(b['input_ids'].shape), b)
    return list(seen.values())

def sdpa_backends(which):
    "None: the package's attention kernels (`attention_kernels`: all but cuDNN's on GPUs); `'pytorch'`: PyTorch's own choice (cuDNN's on Hopper GPUs)"
    if which is None: return attention_kernels()
    assert which == 'pytorch', which
    return contextlib.nullcontext()

def sdpa_choice(bs=32, L=64, d=768, heads=12) -> str:
    "The attention kernel PyTorch picks for a GPT-2-small-shaped bf16 call with a padding mask (as training makes), on this device"
    if DEV.type != 'cuda': return 'cpu'
    from torch.nn.attention import SDPBackend
    q = torch.randn(bs, heads, L, d // heads, device=DEV, dtype=torch.bfloat16, requires_grad=True)
    mask = torch.ones(bs, 1, L, L, device=DEV, dtype=torch.bool).tril()
    try: return SDPBackend(torch._fused_sdp_choice(q, q, q, mask)).name
    except Exception as e: return f'unknown ({type(e).__name__}: {e})'        # a private call: it must not cost the run

def time_eval_trio(spec, batches, data, bf16, tiny, warm=1, rounds=2 if DEV.type == 'cpu' else 5):
    "Eval samples/s of the base model, the unmerged LoRA model and the merged one (float32 weights, as `predict` loads them), interleaved `rounds` times (median)"
    import copy
    lora = build(dict(method='lora'), data['pad'], tiny)
    for n, p in lora.named_parameters():                      # non-zero B, so merging changes the weights
        if 'lora_B' in n: torch.nn.init.normal_(p, std=0.01)
    merged = copy.deepcopy(lora).merge_and_unload()
    base = gpt2_small(data['pad'], tiny)
    models, speeds = dict(base=base, lora=lora, merged=merged), {k: [] for k in ('base', 'lora', 'merged')}
    for _ in range(rounds):
        for k, m in models.items(): speeds[k].append(time_eval(m, batches, bf16, warm)['samples_per_s'])
    with torch.no_grad(), autocast(bf16):
        b = batches[0]; lora.eval(); merged.eval()
        diff = (lora(input_ids=b['input_ids'], attention_mask=b['attention_mask']).logits.float()
                - merged(input_ids=b['input_ids'], attention_mask=b['attention_mask']).logits.float()).abs().max().item()
    n = sum(len(b['labels']) for b in batches[warm:])
    return [{**spec, 'method': k, 'samples_per_s': statistics.median(v), 'samples_per_s_rounds': v, 'samples': n * rounds,
             'wall_s': n * rounds / statistics.median(v), 'peak_mem_gib': None, **({'max_logit_diff_vs_unmerged': diff} if k == 'merged' else {})}
            for k, v in speeds.items()]

def as_dataset(split, n):
    "The first `n` tokenised texts of a split as a `Dataset`, as `tokenize` would give them"
    from datasets import Dataset
    ids = split['ids'][:n]
    return Dataset.from_dict(dict(input_ids=ids, attention_mask=[[1] * len(x) for x in ids], label=split['labels'][:n], length=[len(x) for x in ids]))

def time_head(spec, data, tiny):
    "Head-only training as `compare` does it, 3 epochs: one backbone pass (`pooled_features`), then the head alone (`fit_head`)"
    from lightweight_ft.head import freeze_backbone, pooled_features, fit_head
    from lightweight_ft.models import TrainConfig, load_tokenizer
    tok, ds = load_tokenizer(data['tokenizer']), as_dataset(data['train'], spec['batch_size'] * (spec['steps'] + 1))
    m = freeze_backbone(gpt2_small(data['pad'], tiny))
    sync(); t0 = time.perf_counter()
    feats = pooled_features(m, tok, ds, spec['batch_size']); t_feat = time.perf_counter() - t0
    fit_head(m, feats, ds['label'], TrainConfig(epochs=3, batch_size=1))
    sync(); wall = time.perf_counter() - t0
    return dict(samples_per_s=3 * len(ds) / wall, wall_s=wall, samples=3 * len(ds), feature_pass_s=t_feat,
                note=f'3 epochs on cached features (batch 1); one backbone pass over {len(ds)} texts took {t_feat:.1f} s')

def package_trainer(spec, data, tiny, out, steps):
    "LoRA on GPT-2 small's shape and the package's own `make_trainer` (Trainer, collator, length grouping) for `steps` steps of `spec['batch_size']`"
    from datasets import DatasetDict
    from lightweight_ft.models import make_trainer, TrainConfig, load_tokenizer
    tok, ds = load_tokenizer(data['tokenizer']), as_dataset(data['train'], len(data['train']['ids']))
    m = add_lora(gpt2_small(data['pad'], tiny), frozen_dtype=spec.get('frozen_dtype') if use_bf16() else None)   # the Trainer trains in bf16 only where use_bf16()
    return make_trainer(m, tok, DatasetDict(train=ds), TrainConfig(batch_size=spec['batch_size'], epochs=1), out=out, max_steps=steps)

def time_trainer(spec, data, tiny):
    "Samples/s of LoRA training through the package's `Trainer` after its setup and first steps: what users get per step"
    from transformers import TrainerCallback
    warm = 3 if DEV.type == 'cuda' else 1
    class Clock(TrainerCallback):
        "Time stamps at the end of the warm-up steps and of the last step"
        t = []
        def on_step_end(self, args, state, control, **kw):
            if state.global_step in (warm, state.max_steps): sync(); self.t.append(time.perf_counter())
    lengths, padded = [], []                                  # real tokens per text, and padded tokens, batch by batch, as the collator pads them
    with tempfile.TemporaryDirectory() as d:
        t = package_trainer(spec, data, tiny, d, spec['steps'] + warm)
        if spec.get('warm_shapes'):     # as the loop rows: a forward and backward pass on each shape the Trainer will meet (its sampler draws the loop's batches)
            for b in shape_warmup(make_batches(data['train'], spec['batch_size'], data['pad'], spec['steps'] + warm, multiple=spec['pad_multiple'])):
                with autocast(use_bf16()): t.model(input_ids=b['input_ids'], attention_mask=b['attention_mask'], labels=b['labels']).loss.backward()
            t.model.zero_grad(set_to_none=True)
        collate = t.data_collator
        def counting(features):
            b = collate(features); lengths.append(b['attention_mask'].sum(1).tolist()); padded.append(b['input_ids'].numel()); return b
        t.data_collator = counting
        t.add_callback(Clock()); t0 = time.perf_counter(); t.train(); total = time.perf_counter() - t0
    timed_len = [l for b in lengths[warm:warm + spec['steps']] for l in b]     # an epoch's last batch may be short
    wall, n = Clock.t[1] - Clock.t[0], len(timed_len)
    return dict(samples_per_s=n / wall, wall_s=wall, samples=n, wall_s_with_setup=total, tokens=sum(timed_len), mean_tokens=float(np.mean(timed_len)),
                tokens_padded=sum(padded[warm:warm + spec['steps']]),
                note=f"steps after the Trainer's setup and {warm} warm-up step(s), the first on the batch of the longest texts; then length-grouped "
                     "batches in random order: the loop rows' batches (same sampler and seed), so mean_tokens and tokens_padded match theirs")

def profile_trainer(spec, data, tiny, steps=30, rows=25):
    "Top ops by self host time over `steps` LoRA steps through the package's `Trainer` (where a step's host time goes), as text"
    from torch.profiler import profile, ProfilerActivity
    with tempfile.TemporaryDirectory() as d:
        t = package_trainer(spec, data, tiny, d, steps)
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEV.type == 'cuda' else [])
        with profile(activities=acts) as prof:
            t0 = time.perf_counter(); t.train(); sync(); wall = time.perf_counter() - t0
    return f'{steps} steps (setup included) in {wall:.2f} s: {1e3 * wall / steps:.1f} ms a step\n' + prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=rows)

# ---- tensor memory, counted exactly on fake tensors ----
class LiveTensors(TorchDispatchMode):
    "Bytes of live tensor storages: those of `start` (e.g. the weights) and every op's outputs until freed; `.peak` is the most at once"
    def __init__(self, start=()):
        super().__init__(); self.live, self.now, self.peak = {}, 0, 0
        for t in start: self._add(t)
        self.start = self.now
    def _add(self, t):
        ref = StorageWeakRef(t.untyped_storage())
        if ref.cdata not in self.live: self.live[ref.cdata] = (ref, t.untyped_storage().nbytes()); self.now += self.live[ref.cdata][1]
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor): self._add(t)
        for k in [k for k, (ref, _) in self.live.items() if ref.expired()]: self.now -= self.live.pop(k)[1]
        self.peak = max(self.peak, self.now)
        return out

def longest_batch(split, bs, pad):
    "The `bs` longest texts as one batch, padded to the longest: where a length-grouped epoch peaks"
    top = np.argsort([len(x) for x in split['ids']], kind='stable')[-bs:]
    return make_batches(dict(ids=[split['ids'][i] for i in top], labels=[split['labels'][i] for i in top]), bs, pad, 1)[0]

def tensor_peak(spec, data, tiny, fake=True):
    "Peak live-tensor GiB (weights included) over two training steps of `spec` on its batch of the longest texts; on fake tensors (no arithmetic) unless `fake=False`"
    from torch._subclasses.fake_tensor import FakeTensorMode
    model = build(spec, data['pad'], tiny).train()
    b = longest_batch(data['train'], spec['batch_size'], data['pad'])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    with FakeTensorMode(allow_non_fake_inputs=True) if fake else contextlib.nullcontext(), LiveTensors([*model.parameters(), *model.buffers()]) as live:
        for _ in range(2): train_step(model, opt, b, spec['precision'] == 'bf16')   # the second step holds the optimizer state the first made
    return dict(tensor_peak_gib=live.peak / 2**30, weights_gib=live.start / 2**30, batch=len(b['labels']), seq_len=b['input_ids'].shape[1])

def tensor_specs(big):
    "The configurations whose tensor memory `--tensor-memory` counts: each method at batch 8 and `big`, in fp32 and under bf16 autocast"
    out = []
    for prec in ('fp32', 'bf16'):
        fd = 'bfloat16' if prec == 'bf16' else None
        for bs in (8, big):
            S = lambda method, **kw: {**dict(method=method, phase='train', batch_size=bs, padding='dynamic', precision=prec, grad_ckpt=False), **kw}
            out += [S('full'), S('lora', dropout_on='rank', frozen_dtype=fd), S('lora', dropout_on='input', frozen_dtype=fd)]
            out.append(S('lora', dropout_on='rank', frozen_dtype=fd, gelu='python', role='python gelu'))
            if prec == 'bf16': out.append(S('lora', dropout_on='rank', frozen_dtype=None, role='fp32 backbone'))
            if bs == big: out += [S('full', grad_ckpt=True), S('lora', dropout_on='rank', frozen_dtype=fd, grad_ckpt=True)]
    return out

def tensor_ratios(rows, big) -> dict:
    "LoRA against full fine-tuning, and each variant against default LoRA, in peak tensor memory; per precision and batch size"
    def get(**kw): return next((r['tensor_peak_gib'] for r in rows if 'error' not in r and all(r.get(k) == v for k, v in kw.items())), float('nan'))
    r = {}
    for prec in ('fp32', 'bf16'):
        for bs in (8, big):
            lora = get(precision=prec, batch_size=bs, method='lora', dropout_on='rank', grad_ckpt=False, role=None)
            r[f'{prec}_lora_vs_full_bs{bs}'] = lora / get(precision=prec, batch_size=bs, method='full', grad_ckpt=False)
            r[f'{prec}_input_vs_rank_dropout_bs{bs}'] = get(precision=prec, batch_size=bs, method='lora', dropout_on='input') / lora
            r[f'{prec}_fused_vs_python_gelu_lora_bs{bs}'] = lora / get(precision=prec, batch_size=bs, role='python gelu')
            if prec == 'bf16': r[f'bf16_vs_fp32_backbone_lora_bs{bs}'] = lora / get(precision=prec, batch_size=bs, role='fp32 backbone')
        r[f'{prec}_grad_ckpt_lora_bs{big}'] = get(precision=prec, batch_size=big, method='lora', grad_ckpt=True) / get(precision=prec, batch_size=big, method='lora', dropout_on='rank', grad_ckpt=False, role=None)
    return {k: None if v != v else v for k, v in r.items()}

def profile_top(spec, data, tiny, rows=25):
    "Top ops by device time for a few training steps of `spec` (torch.profiler), as text"
    from torch.profiler import profile, ProfilerActivity
    bf16 = spec['precision'] == 'bf16'
    model = build(spec, data['pad'], tiny)
    batches = make_batches(data['train'], spec['batch_size'], data['pad'], 4)
    time_train(model, batches[:2], bf16, 1)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEV.type == 'cuda' else [])
    with profile(activities=acts) as prof: time_train(model, batches[2:], bf16, 0)
    key = 'self_device_time_total' if DEV.type == 'cuda' else 'self_cpu_time_total'   # own time, children excluded
    return prof.key_averages().table(sort_by=key, row_limit=rows)

# ---- the plan ----
def plan(a):
    "Every configuration of one run, in order"
    cpu, prec = DEV.type == 'cpu', a.precision or ('bf16' if use_bf16() else 'fp32')
    S = dict(ref_train=3, ref_eval=4, train=12, eval=3, big=2) if cpu else dict(ref_train=30, ref_eval=100, train=60, eval=20, big=20, cold=40)
    if a.tiny: S = {k: 2 for k in S}
    bs, ebs, big = a.batch_size, a.eval_batch_size, a.big_batch
    def T(method, batch, steps, padding='dynamic', precision=prec, phase='train', **kw):
        spec = dict(method=method, phase=phase, batch_size=batch, padding=padding, precision=precision, steps=steps, grad_ckpt=False, compile=False,
                    pad_multiple=1 if cpu else 32, warm_shapes=not cpu)    # as the package pads; GPU rows time steady state (every shape seen)
        if method == 'lora':   # as `compare` trains LoRA: rank-side dropout, frozen weights stored in bf16 when training in bf16
            spec.update(dropout_on='rank', frozen_dtype='bfloat16' if precision == 'bf16' else None)
        return {**spec, **kw}
    head_texts = 256 if cpu else 1248
    specs = [T('lora', 1, S['ref_train'], 'pad1024', 'fp32', dropout_on='input', gelu='python', sdpa='pytorch', role='reference'),
             T('lora', 1, S['ref_eval'], 'pad1024', 'fp32', phase='eval', dropout_on='input', gelu='python', sdpa='pytorch', role='reference'),
             T('lora', bs, S['train'], role='default'), T('lora', bs, S['train'], dropout_on='input', role='peft dropout'),
             T('lora', bs, S['train'], gelu='python', role='python gelu'), T('full', bs, S['train'], gelu='python', role='python gelu'),
             T('full', bs, S['train'], role='default'),
             T('eval_trio', ebs, S['eval'], phase='eval', role='default'),
             T('head', ebs, max(1, head_texts // ebs - 1), path='cached', role='default'),
             T('head', bs, S['train'], path='backbone', role='head through backbone'),
             T('lora', bs, S['train'], path='trainer', role='package Trainer')]
    if bs != 8: specs += [T('lora', 8, S['train'], role='memory bs8'), T('full', 8, S['train'], role='memory bs8')]
    for m, kw in [('lora', {}), ('lora', dict(dropout_on='input')), ('full', {}), ('lora', dict(grad_ckpt=True)), ('full', dict(grad_ckpt=True))]:
        specs.append(T(m, big, S['big'], role='memory big batch', **kw))
    if prec == 'bf16':
        specs += [T('lora', bs, S['train'], input_cast=True, role='peft input cast'),
                  *[T('lora', b, S['train'], frozen_dtype=None, role='fp32 backbone') for b in sorted({bs, 8})]]
    for b in a.sweep_batch: specs.append(T('lora', b, max(2, S['train'] * 8 // b // 2) if cpu else S['train'], sweep='batch', role='sweep'))
    for L in a.sweep_len: specs.append(T('lora', a.sweep_len_batch, max(2, S['train'] // 3) if cpu else S['train'], f'pad{L}', sweep='seq_len', seq_len=L, role='sweep'))
    if a.compile: specs += [T('lora', bs, S['train'], compile=True, role='compiled'), T('full', bs, S['train'], compile=True, role='compiled')]   # last: the slowest to start
    if not cpu or a.tiny:   # one epoch of batches of 32 on shapes this process has not seen, each in a fresh process: what a first epoch costs
        cold = lambda **kw: T('lora', 32, S.get('cold', 2), role='cold shapes', warm_shapes=False, cold=True, **kw)   # 40 batches: the 1,250 texts once
        specs += [cold(pad_multiple=m, sdpa=s) for s in (None, 'pytorch') for m in (1, 32)]
        specs.append(T('lora', bs, S['train'], sdpa='pytorch', role='pytorch attention'))   # steady state, every shape seen
    return [s for s in specs if not a.only or s['role'] in a.only]

def run_child(specs_file, data_file, out_file, tiny):
    from lightweight_ft.data import quiet
    import warnings; warnings.filterwarnings('ignore', category=FutureWarning)   # transformers' renamed-API notices
    quiet()
    data = json.loads(Path(data_file).read_text())
    rows = []
    for spec in json.loads(Path(specs_file).read_text()):
        try: r = measure(spec, data, tiny)
        except Exception as e:                                    # one failed configuration must not lose the others
            r = {**spec, 'error': f'{type(e).__name__}: {e}'}; print('FAILED', r, file=sys.stderr)
        rows.append(r if isinstance(r, list) else [r])           # one list of rows per spec
        for x in rows[-1]: show(x)
        if DEV.type == 'cuda': torch.cuda.empty_cache()
        Path(out_file).write_text(json.dumps(rows))               # after every spec: a timeout keeps what was measured

def show(r):
    "One line per measured configuration"
    if 'error' in r: return print(f"{r['method']:8} {r['phase']:5} bs={r['batch_size']:<4} {r.get('role', '')}: FAILED {r['error']}", flush=True)
    mem = '-' if r.get('peak_mem_gib') is None else f"{r['peak_mem_gib']:.2f} GiB"
    print(f"{r['method']:8} {r['phase']:5} bs={r['batch_size']:<4} {r['padding']:8} {r['precision']} {r.get('role', '')}"
          f"{' ckpt' if r.get('grad_ckpt') else ''}{' compiled' if r.get('compile') else ''}: {r['samples_per_s']:9.1f} samples/s  peak {mem}", flush=True)

def run_all(specs, data_file, tiny, isolate, out, env=None):
    "Measure `specs`: each in a fresh process when `isolate` (CPU memory), else all in one process; rows kept beside `out` until done"
    groups = [[s] for s in specs] if isolate else [specs]
    rows, parts = [], []
    with tempfile.TemporaryDirectory() as d:
        for i, g in enumerate(groups):
            sf, of = Path(d)/'specs.json', Path(out).with_name(f'{Path(out).stem}.rows{i}.json')
            sf.write_text(json.dumps(g)); parts.append(of)
            rc = subprocess.run([sys.executable, __file__, '--child', str(sf), str(data_file), str(of)] + (['--tiny'] if tiny else []), env=env).returncode
            per_spec = json.loads(of.read_text()) if of.exists() else []
            lost = [[{**s, 'error': f'process exited with {rc}'}] for s in g[len(per_spec):]]   # a crash or kill
            for r in lost: show(r[0])
            per_spec += lost
            rows += [r for rs in per_spec for r in rs]
    for f in parts: f.unlink(missing_ok=True)
    return rows

def seed_comparison(tiny, batch_size=8):
    "Time of the package's whole `seed` comparison (baseline, head, LoRA; train and eval) with GPT-2 small's shape"
    from lightweight_ft.compare import compare
    from lightweight_ft.data import shared_dir
    from lightweight_ft.models import TrainConfig, load_tokenizer, gpt2_tokenizer_source
    tok = load_tokenizer(gpt2_tokenizer_source())
    sd = shared_dir()
    with tempfile.TemporaryDirectory() as d:
        gpt2_small(tok.pad_token_id, tiny).save_pretrained(Path(d)/'model'); tok.save_pretrained(Path(d)/'model')
        t0 = time.perf_counter()
        compare(Path(d)/'model', sd/'data'/'ag_news' if sd else 'ag_news', 'tiny' if tiny else 'seed', out=Path(d)/'run',
                cfg=TrainConfig(batch_size=batch_size), save=False)
        wall = time.perf_counter() - t0
        rec = {m: json.loads((Path(d)/'run'/'records'/f'{m}.json').read_text()) for m in ('baseline', 'head', 'lora')}
    # baseline: the test-set feature pass; head: train features + 3 epochs on them; LoRA: training + evaluation
    compute = rec['baseline']['eval_s'] + rec['head']['train_s'] + rec['lora']['train_s'] + rec['lora']['eval_s']
    return dict(compute_s=compute, wall_s_including_load=wall, preset='tiny' if tiny else 'seed', lora_batch_size=batch_size,
                parts=dict(baseline_eval_s=rec['baseline']['eval_s'], head_train_s=rec['head']['train_s'],
                           lora_train_s=rec['lora']['train_s'], lora_eval_s=rec['lora']['eval_s']))

def ratios(rows, a):
    "The headline ratios, each between two measurements of this run"
    get = lambda **kw: next((r for r in rows if all(r.get(k) == v for k, v in kw.items())), None)
    sps = lambda r: r.get('samples_per_s', float('nan')) if r else float('nan')
    mem = lambda r: r['peak_mem_gib'] if r and r.get('peak_mem_gib') else float('nan')
    ref_t, ref_e = get(role='reference', phase='train'), get(role='reference', phase='eval')
    lt, ft = get(method='lora', role='default', phase='train', path=None), get(method='full', role='default')
    lora_e, base_e, merged_e = get(method='lora', phase='eval', role='default'), get(method='base'), get(method='merged')
    role8 = 'default' if a.batch_size == 8 else 'memory bs8'
    l8, f8 = get(method='lora', phase='train', role=role8, path=None), get(method='full', role=role8)
    big = lambda m, **kw: get(method=m, role='memory big batch', **kw)
    lb, lbi, fb = big('lora', dropout_on='rank', grad_ckpt=False), big('lora', dropout_on='input'), big('full', grad_ckpt=False)
    lbc, fbc, B = big('lora', grad_ckpt=True), big('full', grad_ckpt=True), a.big_batch
    eager = lt or (lb if a.batch_size == B else None)          # a run without the default row: the identical big-batch one
    r = dict(lora_train_vs_reference=sps(lt) / sps(ref_t), eval_vs_reference=sps(lora_e) / sps(ref_e),
             lora_vs_full_train_speed=sps(lt) / sps(ft), lora_vs_full_peak_mem_bs8=mem(l8) / mem(f8),
             merged_vs_base_eval_speed=sps(merged_e) / sps(base_e), lora_unmerged_vs_base_eval_speed=sps(lora_e) / sps(base_e),
             rank_vs_input_dropout_lora_train_speed=sps(lt) / sps(get(role='peft dropout')),
             head_cached_vs_backbone_train_speed=sps(get(method='head', path='cached')) / sps(get(method='head', path='backbone')),
             package_trainer_vs_loop_lora_train_speed=sps(get(path='trainer')) / sps(eager),
             **{f'lora_vs_full_peak_mem_bs{B}': mem(lb) / mem(fb), f'lora_vs_full_train_speed_bs{B}': sps(lb) / sps(fb),
                f'input_vs_rank_dropout_peak_mem_bs{B}': mem(lbi) / mem(lb),
                f'grad_ckpt_peak_mem_lora_bs{B}': mem(lbc) / mem(lb), f'grad_ckpt_peak_mem_full_bs{B}': mem(fbc) / mem(fb),
                f'grad_ckpt_train_speed_lora_bs{B}': sps(lbc) / sps(lb)})
    r[f'rank_vs_input_dropout_lora_train_speed_bs{B}'] = sps(lb) / sps(lbi)
    if get(role='peft input cast'): r['default_vs_peft_input_cast_lora_train_speed'] = sps(eager) / sps(get(role='peft input cast'))
    if get(role='pytorch attention'): r['package_vs_pytorch_attention_lora_train_speed'] = sps(eager) / sps(get(role='pytorch attention'))
    r.update(fused_vs_python_gelu_lora_train_speed=sps(eager) / sps(get(role='python gelu', method='lora')),
             fused_vs_python_gelu_full_train_speed=sps(ft or (fb if a.batch_size == B else None)) / sps(get(role='python gelu', method='full')))
    fp32_bb = lambda b: get(role='fp32 backbone', batch_size=b)
    if fp32_bb(a.batch_size): r['bf16_vs_fp32_backbone_lora_train_speed'] = sps(lt) / sps(fp32_bb(a.batch_size))
    if fp32_bb(8): r.update(bf16_vs_fp32_backbone_lora_peak_mem_bs8=mem(l8) / mem(fp32_bb(8)), lora_fp32_backbone_vs_full_peak_mem_bs8=mem(fp32_bb(8)) / mem(f8))
    cold = lambda **kw: get(role='cold shapes', sdpa=kw.pop('sdpa', None), **kw)
    if cold(pad_multiple=1):
        r.update(cold_pad32_vs_pad1_lora_train_speed_bs32=sps(cold(pad_multiple=32)) / sps(cold(pad_multiple=1)),
                 cold_package_vs_pytorch_attention_lora_train_speed_bs32=sps(cold(pad_multiple=32)) / sps(cold(pad_multiple=32, sdpa='pytorch')),
                 cold_package_vs_pytorch_attention_lora_train_speed_bs32_pad1=sps(cold(pad_multiple=1)) / sps(cold(pad_multiple=1, sdpa='pytorch')))
    lc, fc = get(method='lora', compile=True), get(method='full', compile=True)
    if a.compile: r.update(compiled_vs_eager_lora_train_speed=sps(lc) / sps(eager), compiled_lora_vs_full_train_speed=sps(lc) / sps(fc))
    peak = bf16_peak_tflops(torch.cuda.get_device_name()) if DEV.type == 'cuda' else getattr(a, 'bf16_peak_tflops', None)
    mfu = lambda x, m: train_flops(x['lengths'], m) / x['wall_s'] / (peak * 1e12) if peak and x and 'lengths' in x and x['precision'] == 'bf16' else float('nan')
    if peak:
        r.update(lora_train_mfu=mfu(lt, 'lora'), full_train_mfu=mfu(ft, 'full'))
        if a.compile: r.update(compiled_lora_train_mfu=mfu(lc, 'lora'), compiled_full_train_mfu=mfu(fc, 'full'))
    return {k: None if v != v else v for k, v in r.items()}        # NaN (a configuration failed) -> null

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='bench/results/cpu-2core.json')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--eval-batch-size', type=int, default=64)
    p.add_argument('--big-batch', type=int, default=64, help='batch size of the activation-dominated memory runs (256 on GPUs)')
    p.add_argument('--sweep-batch', type=int, nargs='+', default=[1, 4, 16, 32])
    p.add_argument('--sweep-len', type=int, nargs='+', default=[64, 128, 256, 512])
    p.add_argument('--sweep-len-batch', type=int, default=8)
    p.add_argument('--compile', action='store_true', help='also time torch.compile for LoRA and full fine-tuning')
    p.add_argument('--seed-comparison', action='store_true', help="also time the package's whole seed comparison")
    p.add_argument('--seed-comparison-batch', type=int, nargs='+', default=[8],
                   help="LoRA batch sizes of the timed seed comparisons; the first (the package's default, 8) is the headline")
    p.add_argument('--tensor-memory', action='store_true',
                   help='instead of timing: count the peak live-tensor memory of each method at batch 8 and --big-batch, fp32 and bf16, on fake tensors (seconds each)')
    p.add_argument('--profile', default=None, help='write torch.profiler tables of LoRA and full training to this file')
    p.add_argument('--malloc-mmap-threshold', type=int, default=None,
                   help="glibc: serve allocations above this many bytes with mmap, so freed memory leaves the process at once "
                        "(CPU peak memory then tracks live tensors; slows training, so use it for memory runs only)")
    p.add_argument('--precision', choices=['bf16', 'fp32'], default=None,
                   help="of the default configurations (default: bf16 on GPUs that support it, else fp32); bf16 on a CPU without bf16 units is "
                        "slow, so use it there for memory questions only")
    p.add_argument('--only', nargs='+', default=None, help="measure only the configurations of these roles (e.g. reference default 'memory bs8')")
    p.add_argument('--tiny', action='store_true', help='2-layer model and 2 steps per configuration: checks this script, measures nothing')
    p.add_argument('--child', nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child: return run_child(*a.child, a.tiny)
    from lightweight_ft.compare import environment, atomic_write
    from lightweight_ft.data import quiet
    quiet()
    with tempfile.TemporaryDirectory() as d:
        data = prepare_data(Path(d)/'data.json')
        if a.tensor_memory: return write_tensor_memory(a, data)
        lengths = np.array([len(x) for x in data['train']['ids']])
        t0 = time.perf_counter()
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        isolate = DEV.type == 'cpu' and not a.tiny
        if DEV.type == 'cpu' and not isolate: a.malloc_mmap_threshold = a.malloc_mmap_threshold or 131072   # one process: freed memory must leave it
        env = {**os.environ, 'MALLOC_MMAP_THRESHOLD_': str(a.malloc_mmap_threshold)} if a.malloc_mmap_threshold else None
        if a.profile: write_profile(a, data)           # first: seconds, and a later timeout cannot lose it
        specs = plan(a)
        res = dict(device=environment()['device'], versions=environment(), settings=settings(a, data, lengths), runs=[])
        def save(rows):                                 # after each stage, so a later timeout loses only that stage
            res.update(runs=[{k: v for k, v in r.items() if k != 'lengths'} for r in rows], ratios=ratios(rows, a))   # MFU needs the lengths
            res['settings']['total_wall_s'] = time.perf_counter() - t0
            atomic_write(a.out, lambda f: Path(f).write_text(json.dumps(res, indent=1)))
        rows = run_all([s for s in specs if not s.get('cold')], Path(d)/'data.json', a.tiny, isolate=isolate, out=a.out, env=env)
        save(rows)
        if any(s.get('cold') for s in specs):
            rows += run_all([s for s in specs if s.get('cold')], Path(d)/'data.json', a.tiny, isolate=True, out=a.out, env=env); save(rows)
        print(json.dumps(res['ratios'], indent=1), flush=True)
        if a.seed_comparison:
            res['seed_comparisons'] = []
            for b in a.seed_comparison_batch:
                res['seed_comparisons'].append(seed_comparison(a.tiny, b)); print(res['seed_comparisons'][-1], flush=True)
                res['seed_comparison'] = res['seed_comparisons'][0]; save(rows)

def write_tensor_memory(a, data):
    "Count each `tensor_specs` configuration's peak tensor memory; write rows, ratios and settings to `a.out`"
    from lightweight_ft.compare import environment, atomic_write
    rows = []
    for spec in tensor_specs(a.big_batch):
        try: rows.append({**spec, **tensor_peak(spec, data, a.tiny)})
        except Exception as e: rows.append({**spec, 'error': f'{type(e).__name__}: {e}'})
        print({k: v for k, v in rows[-1].items() if k not in ('phase', 'padding')}, flush=True)
    settings = dict(model='GPT2Config() (GPT-2 small shape, random weights)' if not a.tiny else 'tiny 2-layer GPT-2 (script check only)',
                    what='peak bytes of live tensor storages (weights, gradients, optimizer state, activations, temporaries) over two AdamW steps '
                         'on the batch of the longest texts at each batch size, counted op by op on fake tensors: exact for these kernels, '
                         'with no allocator caching or fragmentation', kernels=f'{DEV.type} kernels of torch {torch.__version__}',
                    command=shlex.join(['python'] + sys.argv))
    res = dict(device=environment()['device'], versions=environment(), settings=settings, runs=rows, ratios=tensor_ratios(rows, a.big_batch))
    atomic_write(a.out, lambda f: Path(f).write_text(json.dumps(res, indent=1)))
    print(json.dumps(res['ratios'], indent=1))

def write_profile(a, data):
    "torch.profiler tables of LoRA (both dropout placements) and full training at the default batch size, and of LoRA through the package's `Trainer`, to `a.profile`"
    prec = a.precision or ('bf16' if use_bf16() else 'fp32')
    fd = 'bfloat16' if prec == 'bf16' else None
    txt = [f'== {m} {dict(kw)} bs={a.batch_size} {prec}\n' + profile_top(dict(method=m, batch_size=a.batch_size, precision=prec, **kw), data, a.tiny)
           for m, kw in [('lora', dict(frozen_dtype=fd)), ('lora', dict(dropout_on='input', frozen_dtype=fd)), ('full', {})]]
    txt.append(f"== LoRA through the package's Trainer, bs=8 {prec}, by self host time\n" + profile_trainer(dict(batch_size=8, frozen_dtype=fd), data, a.tiny))
    Path(a.profile).write_text('\n\n'.join(txt))
    if DEV.type == 'cuda': torch.cuda.empty_cache()                 # leave the GPU's memory to the measuring process

def settings(a, data, lengths) -> dict:
    "What was measured and how, for the results file"
    return dict(model='GPT2Config() (GPT-2 small shape, random weights)' if not a.tiny else 'tiny 2-layer GPT-2 (script check only)',
                tokenizer=data['tokenizer'], data='AG News seed preset (1,250 train / 500 test texts)', mean_tokens=float(lengths.mean()),
                train_batch_size=a.batch_size, eval_batch_size=a.eval_batch_size, big_batch=a.big_batch, sweep_len_batch=a.sweep_len_batch, optimizer='AdamW',
                lora=dict(r=8, alpha=32, dropout=0.1, targets=['c_attn', 'c_proj'], dropout_on='rank (default) or input (peft, reference)',
                          frozen_dtype="bfloat16 when training in bf16 (as compare does; the 'fp32 backbone' rows keep float32), else float32"),
                peak_memory='peak above the level at the start of each configuration (before its model is built): GPU: torch peak allocation; '
                            "CPU: peak resident memory of a fresh process per configuration (the kernel's VmHWM, reset at the start)",
                flops='model FLOPs on real (unpadded) tokens: forward 24*d^2*layers per token + 4*d*layers*T^2 per sequence (+ LoRA); '
                      'LoRA training = 2x forward (no backbone weight gradients), full = 3x forward',
                bf16_peak_tflops=bf16_peak_tflops(torch.cuda.get_device_name()) if DEV.type == 'cuda' else None,
                precision=a.precision or ('bf16' if use_bf16() else 'fp32'), malloc_mmap_threshold=a.malloc_mmap_threshold,
                padding="dynamic rows: each batch padded to its longest text rounded up to pad_multiple (1 on CPUs, 32 on GPUs, as the package pads)",
                warmup="rows with warm_shapes first take one untimed step on each batch shape they time (GPUs), so they time steady state; "
                       "'cold shapes' rows (GPUs) time one epoch on shapes new to their fresh process, as a first epoch runs",
                attention=dict(sdpa_backend=sdpa_choice(), cudnn=torch.backends.cudnn.version() if DEV.type == 'cuda' else None),
                command=shlex.join(['python'] + sys.argv))

if __name__ == '__main__': main()
