"Checks on the repository itself: the README is the rendered index notebook, and the package matches the notebooks."
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def test_readme_is_index_notebook():
    new = subprocess.run([sys.executable, 'tools/make_readme.py', '--stdout'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert new == (ROOT/'README.md').read_text(), 'README.md is stale: run `make readme` (it renders nbs/index.ipynb)'

def test_cli_help():
    r = subprocess.run([str(Path(sys.executable).parent/'lightweight-ft'), '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'compare' in r.stdout and 'predict' in r.stdout

def test_benchmark_script_tiny(tmp_path):
    "Every code path of bench/run.py and bench/combine.py on a 2-layer model (checks the scripts; measures nothing), split in two calls as bench/gpu.sh does"
    import json
    run = lambda out, *args: subprocess.run([sys.executable, 'bench/run.py', '--tiny', '--out', str(tmp_path/out), '--sweep-batch', '2', '--sweep-len', '32', *args],
                                            cwd=ROOT, check=True, capture_output=True, text=True)
    run('head.json', '--only', 'reference', 'default', 'python gelu', 'pytorch attention', 'cold shapes', '--seed-comparison', '--seed-comparison-batch', '8', '4', '--profile', str(tmp_path/'prof.txt'))
    run('extras.json', '--only', 'peft dropout', 'head through backbone', 'package Trainer', 'memory big batch', 'sweep')
    run('tensors.json', '--tensor-memory', '--big-batch', '16')
    tensors = json.loads((tmp_path/'tensors.json').read_text())
    assert len(tensors['runs']) == 22 and [r for r in tensors['runs'] if 'error' in r] == [] and None not in tensors['ratios'].values()
    subprocess.run([sys.executable, 'bench/combine.py', str(tmp_path/'head.json'), str(tmp_path/'extras.json'), '--out', str(tmp_path/'all.json')],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    res = json.loads((tmp_path/'all.json').read_text())
    assert {'device', 'versions', 'settings', 'runs', 'ratios', 'seed_comparison'} <= set(res)
    assert [r for r in res['runs'] if 'error' in r] == []
    assert [s['lora_batch_size'] for s in res['seed_comparisons']] == [8, 4]
    cold = [r for r in res['runs'] if r['role'] == 'cold shapes']
    assert [(r['pad_multiple'], r.get('sdpa')) for r in cold] == [(1, None), (32, None), (1, 'pytorch'), (32, 'pytorch')] and all(r['shapes'] >= 1 for r in cold)
    headline = {'lora_train_vs_reference', 'eval_vs_reference', 'lora_vs_full_train_speed', 'lora_vs_full_peak_mem_bs8', 'merged_vs_base_eval_speed',
                'fused_vs_python_gelu_lora_train_speed', 'fused_vs_python_gelu_full_train_speed',
                'cold_pad32_vs_pad1_lora_train_speed_bs32', 'cold_package_vs_pytorch_attention_lora_train_speed_bs32',
                'cold_package_vs_pytorch_attention_lora_train_speed_bs32_pad1', 'package_vs_pytorch_attention_lora_train_speed'}
    extras = {'lora_vs_full_peak_mem_bs64', 'grad_ckpt_peak_mem_lora_bs64', 'rank_vs_input_dropout_lora_train_speed_bs64', 'input_vs_rank_dropout_peak_mem_bs64'}
    assert headline <= {k for k, c in res['ratio_call'].items() if c == 'headline'} and extras <= {k for k, c in res['ratio_call'].items() if c == 'extras'}
    assert 'head_cached_vs_backbone_train_speed' not in res['ratios']   # its two rows are in different calls: no ratio mixes them
    assert None not in res['ratios'].values()
    loop = next(r for r in res['runs'] if r['role'] == 'default' and r['method'] == 'lora' and r['phase'] == 'train')
    trainer = next(r for r in res['runs'] if r['role'] == 'package Trainer')
    assert (trainer['tokens'], trainer['tokens_padded']) == (loop['tokens'], loop['tokens_padded'])   # the Trainer row times the loop rows' batches
    merged = next(r for r in res['runs'] if r['method'] == 'merged')
    from lightweight_ft.models import tolerance
    tol = tolerance('merge', bf16=merged['precision'] == 'bf16')
    assert merged['max_logit_diff_vs_unmerged'] < tol          # merging does not change the model's outputs (at the row's precision)
    assert 'aten::' in (tmp_path/'prof.txt').read_text() and "through the package's Trainer" in (tmp_path/'prof.txt').read_text()

def bench_data(lengths):
    "Texts of `lengths` random token ids (labels 0-3) as the benchmark's data, with the GPT-2 tokenizer"
    import random
    from lightweight_ft.models import load_tokenizer, gpt2_tokenizer_source
    tok, rng = load_tokenizer(gpt2_tokenizer_source()), random.Random(0)
    split = dict(ids=[[rng.randrange(1, 1000) for _ in range(n)] for n in lengths], labels=[i % 4 for i in range(len(lengths))])
    return dict(pad=tok.pad_token_id, tokenizer=gpt2_tokenizer_source(), train=split, test=split), tok

def test_benchmark_tensor_memory_count():
    "The benchmark's live-tensor count: exact bytes for tensors made and freed, and (within 1%) the same peak on fake tensors as on real ones"
    import torch
    from lightweight_ft import benchmark as b
    with b.LiveTensors() as live:
        x = torch.ones(1000); y = x * 2; del x, y; z = torch.ones(10)
    assert (live.peak, live.now) == (8000, 40)
    data, _ = bench_data((5, 9, 17, 30, 3, 12, 8, 40))
    for spec in [dict(method='lora', dropout_on='rank', frozen_dtype=None), dict(method='full')]:
        spec = dict(spec, batch_size=4, precision='fp32', grad_ckpt=False)
        real, fake = b.tensor_peak(spec, data, tiny=True, fake=False), b.tensor_peak(spec, data, tiny=True)
        assert real['seq_len'] == fake['seq_len'] == 40 and real['batch'] == 4 and real['weights_gib'] == fake['weights_gib'] > 0, (spec, real, fake)
        assert real['tensor_peak_gib'] > real['weights_gib'] and abs(fake['tensor_peak_gib'] / real['tensor_peak_gib'] - 1) < 0.01, (spec, real, fake)   # fake kernels may differ by a temporary

def test_benchmark_flop_count():
    "The FLOP count behind MFU: GPT-2 small's 85M matmul weights give 2 FLOPs each per token forward; LoRA training is 2x forward, full 3x"
    from lightweight_ft import benchmark as b
    assert 12 * 12 * 768**2 == 84_934_656                        # qkv + proj + mlp weights of 12 blocks
    assert b.forward_flops([1]) == 2 * 84_934_656 + 4 * 768 * 12
    assert b.forward_flops([10, 20]) == 30 * 2 * 84_934_656 + 4 * 768 * 12 * (100 + 400)
    assert b.train_flops([50], 'full') == 3 * b.forward_flops([50])
    lora_extra = 3 * 2 * 8 * (768 + 2304 + 768 + 768 + 3072 + 768) * 12 * 50
    assert b.train_flops([50], 'lora') == 2 * b.forward_flops([50]) + lora_extra
    assert b.bf16_peak_tflops('NVIDIA H200') == 989.4 and b.bf16_peak_tflops('NVIDIA H100 PCIe') == 756.5 and b.bf16_peak_tflops('Intel Xeon') is None

def test_benchmark_batches_and_shape_warmup():
    "Batches from the package's collator, padded up to a multiple, and the warm-up that gives each batch shape one untimed step (GPU rows then time steady state)"
    from lightweight_ft import benchmark as b
    data, tok = bench_data((40, 5, 70, 17, 3, 50, 9, 30))   # spaced so that the 10% sort jitter cannot reorder them
    split = data['train']
    exact, bucketed = b.make_batches(split, 2, tok, 4), b.make_batches(split, 2, tok, 4, multiple=32)
    assert sorted(x['input_ids'].shape[1] for x in exact) == [5, 17, 40, 70]
    assert exact[0]['input_ids'].shape[1] == 70                         # the Trainer's order: the longest batch first
    assert sorted(x['input_ids'].shape[1] for x in bucketed) == [32, 32, 64, 96]
    assert sorted(x['input_ids'].shape[1] for x in b.make_batches(split, 2, tok, 4, train=False)) == [5, 17, 40, 70]   # evaluation: sorted
    assert [x['input_ids'].shape[1] for x in b.make_batches(split, 2, tok, 3, pad_to=64)] == [64] * 3            # the reference: fixed length
    assert len(b.make_batches(split, 2, tok, 10)) == 10                                                         # more steps than an epoch: the next epochs
    assert all(x['attention_mask'].sum().item() == y['attention_mask'].sum().item() for x, y in zip(exact, bucketed))   # the same real tokens
    assert all((x['input_ids'][x['attention_mask'] == 0] == tok.pad_token_id).all() for x in bucketed)        # padded as the collator pads
    assert [tuple(x['input_ids'].shape) for x in b.shape_warmup(bucketed)] == list(dict.fromkeys(tuple(x['input_ids'].shape) for x in bucketed))

def test_tutorial_prose_has_no_performance_internals():
    "Notebooks 00-05 teach: kernels, GPUs and allocators belong in 06_benchmark; no notebook prose quotes commit hashes"
    import json, re
    perf = re.compile(r'cudnn|\bh[12]00\b|allocator|\bmfu\b|glibc|\bkernels?\b', re.I)
    for p in sorted((ROOT/'nbs').glob('*.ipynb')):
        md = ' '.join(''.join(c['source']) for c in json.loads(p.read_text())['cells'] if c['cell_type'] == 'markdown')
        assert not re.findall(r'`[0-9a-f]{7,40}`', md), f'{p.name}: commit hashes in prose'
        if re.match(r'0[0-5]_', p.name): assert not perf.findall(md), f'{p.name}: performance internals in tutorial prose: {perf.findall(md)}'

def test_package_functions_are_short():
    "No function in the package is longer than about 40 lines"
    import ast
    for f in (ROOT/'lightweight_ft').glob('*.py'):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno + 1 <= 40, f'{f.name}:{node.lineno} {node.name} is {node.end_lineno - node.lineno + 1} lines'

def test_benchmark_ratio_table():
    "Every ratio is one entry of the declared table, whose rows are named selectors; the committed results' current ratios are among them"
    import json
    from lightweight_ft import benchmark as b
    assert all(num in b.ROWS and (den is None or den in b.ROWS) and metric in b.METRICS for _, num, den, metric, _ in b.RATIOS)
    for f in ('cpu-2core', 'h200'):
        res = json.loads((ROOT/'bench'/'results'/f'{f}.json').read_text())
        older = {'no_upcast_vs_default_lora_train_speed', 'cold_no_cudnn_vs_default_attention_lora_train_speed_bs32'}   # bench/README.md
        assert set(res['ratios']) - {n.format(big=res['settings']['big_batch']) for n, *_ in b.RATIOS} <= older, f
    tk = json.loads((ROOT/'bench'/'results'/'tensors'/'cpu-kernels.json').read_text())
    assert set(b.tensor_ratios([dict(s, tensor_peak_gib=1.) for s in b.tensor_specs(256)], 256)) == set(tk['ratios'])

def test_gpu_check_join(tmp_path):
    "bench/join_calls.py keeps each ratio from the one call that measured it, and names the stages that wrote nothing"
    import json
    (tmp_path/'a.json').write_text(json.dumps(dict(device='GPU', versions={}, ratios=dict(x=1.5, y=None), seed_comparisons=[dict(compute_s=9.)])))
    (tmp_path/'b.json').write_text(json.dumps(dict(device='GPU', versions={}, ratios=dict(x=9., y=2.), unavailable=dict(z='why'))))
    (tmp_path/'check-default.json').write_text(json.dumps(dict(checks=[dict(model='m', within_tolerance=True)])))
    subprocess.run([sys.executable, 'bench/join_calls.py', '--out', str(tmp_path/'j.json'), f"eager={tmp_path/'a.json'}",
                    f"compiled={tmp_path/'b.json'}", '--check', str(tmp_path/'none.json'), str(tmp_path/'check-default.json')],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    j = json.loads((tmp_path/'j.json').read_text())
    assert j['ratios'] == dict(x=1.5, y=2.) and j['ratio_call'] == dict(x='eager', y='compiled')
    assert j['seed_comparisons'] == [dict(compute_s=9., call='eager')] and 'not written' in j['compile_checks']['none']['error']
    assert j['compile_checks']['check-default']['checks'][0]['within_tolerance']   # one per torch.compile mode
    assert j['unavailable'] == dict(z='why')

def test_compile_smoke(tmp_path):
    "bench/compile_smoke.py compiles its plain-PyTorch cases here too, and the join keeps what it found"
    import json, os
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(tmp_path/'inductor'))
    subprocess.run([sys.executable, 'bench/compile_smoke.py', '--out', str(tmp_path/'s.json')], cwd=ROOT, env=env, check=True,
                   capture_output=True, text=True, timeout=600)
    subprocess.run([sys.executable, 'bench/join_calls.py', '--out', str(tmp_path/'j.json'), f"eager={tmp_path/'none.json'}",
                    '--smoke', str(tmp_path/'s.json')], cwd=ROOT, check=True, capture_output=True, text=True)
    cases = json.loads((tmp_path/'j.json').read_text())['compile_smoke']['cases']
    assert len(cases) == 4 and all(c['ok'] and c['max_grad_diff' if 'seconds' in c else 'max_diff'] < 1e-2 for c in cases.values())

def test_real_ab(tmp_path):
    "bench/real_ab.py takes turns between commands and gives each one's ratio against the first, round by round"
    import json
    write = ("import json, pathlib, sys; p = pathlib.Path(sys.argv[1], 'records'); p.mkdir(parents=True); "
             "(p/'lora.json').write_text(json.dumps(dict(train_samples_per_s=float(sys.argv[2]), accuracy=0.5))); "
             "pathlib.Path(sys.argv[1], 'lora').mkdir()")   # what a run trained: not kept
    cmd = lambda speed: f'{sys.executable} -c "{write}" {{out}} {speed}'
    subprocess.run([sys.executable, 'bench/real_ab.py', '--rounds', '2', '--warmup', '0', '--out', str(tmp_path/'ab.json'),
                    '--keep', str(tmp_path/'kept'), '--name', 'slow', cmd(2), '--name', 'fast, compiled', cmd(3)],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    r = json.loads((tmp_path/'ab.json').read_text())
    assert r['ratio_vs_first']['fast, compiled']['lora_train_samples_per_s'] == 1.5 and len(r['runs']['slow']) == 2
    assert r['medians']['fast, compiled']['lora_accuracy'] == 0.5 and r['machine'] == r['versions']['device']
    kept = sorted(str(p.relative_to(tmp_path/'kept')) for p in (tmp_path/'kept').rglob('*') if p.is_file())
    assert kept == [f'{n}/round{k}/records/lora.json' for n in ('fast-compiled', 'slow') for k in (0, 1)], kept

def test_step_split(tmp_path):
    "bench/step_split.py runs on a 2-layer Llama-style model and counts the arithmetic its bound comes from"
    import json, os
    from transformers import LlamaConfig, LlamaForSequenceClassification
    from lightweight_ft.data import shared_dir
    from lightweight_ft.models import gpt2_tokenizer_source, load_tokenizer
    tok = load_tokenizer(gpt2_tokenizer_source())
    LlamaForSequenceClassification(LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, num_labels=4, pad_token_id=tok.pad_token_id)).save_pretrained(tmp_path/'m')
    tok.save_pretrained(tmp_path/'m')
    subprocess.run([sys.executable, 'bench/step_split.py', '--model', str(tmp_path/'m'), '--data', str(shared_dir()/'data'/'ag_news'),
                    '--rounds', '1', '--profiled', '2', '--out', str(tmp_path/'s.json')], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, 'HF_HUB_OFFLINE': '1'})
    ar = json.loads((tmp_path/'s.json').read_text())['arithmetic']
    weights = 2 * (64 * 64 * 2 + 64 * 32 * 2 + 64 * 128 * 3)   # the layers' frozen weights: q, o; k, v; gate, up, down
    per_token = ar['gflop_per_text'] * 1e9 / ar['padded_tokens_per_text']
    assert 4 * weights < per_token < 8 * weights   # forward and input gradients (2 + 2 per weight), attention, adapters
    assert ar['padded_over_real_tokens'] >= 1 and ar['float32']['ceiling_if_all_ran_at_bare_rate'] > 0
