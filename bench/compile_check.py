"""Does a compiled run give what an eager one gives, on this machine's device policy? And what does compiling cost?

For each model, LoRA without dropout (its random masks differ between compiled and eager code) trains for one epoch on
the first `--texts` texts of the `tiny` preset through the package's `make_trainer`, then predicts the same number of
test texts: once eagerly, once with `compile=True` in the device policy (on a GPU: CUDA graphs, `compile_options`).
The class probabilities and the final training loss must agree within the tolerance of the policy's precision. Each
run's wall time, compiling included (TorchInductor's cache starts empty), is recorded. `nbs/02_training.ipynb` tests
the same on the CPU; this script is what `bench/gpu_check.sh` runs on a GPU.

    python bench/compile_check.py --out compile-check.json                        # tiny GPT-2, tiny Llama, MiniLM
    python bench/compile_check.py --models minilm-shape --out c.json               # MiniLM's shape, random weights: its
                                                                                   # folder without model.safetensors will do
    python bench/compile_check.py --models tiny-gpt2 --texts 16 --out /tmp/c.json  # a quick check of the script
"""
import argparse, json, os, tempfile, time
from pathlib import Path
import torch
from transformers import AutoConfig, BertForSequenceClassification, LlamaConfig, LlamaForSequenceClassification
from lightweight_ft.data import load_news, quiet, select_preset, shared_dir, tokenize
from lightweight_ft.models import COMPILE_MODES, DevicePolicy, device_policy, gpt2_tokenizer_source, load_classifier, load_tokenizer, tiny_gpt2
from lightweight_ft.training import TrainConfig, evaluate, make_trainer
from lightweight_ft.lora import add_lora
from lightweight_ft.utils import environment

TOL = dict(float32=1e-5, bfloat16=2e-2)   # largest difference of a class probability or of the loss, compiled vs eager

def sources(tmp) -> dict:
    "Each model the check can run, as a function giving its folder"
    def llama():
        tok = load_tokenizer(gpt2_tokenizer_source()); torch.manual_seed(0)
        LlamaForSequenceClassification(LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=1, num_labels=4, pad_token_id=tok.pad_token_id)).save_pretrained(tmp/'llama')
        tok.save_pretrained(tmp/'llama'); return str(tmp/'llama')
    def minilm_shape():   # the check compares two runs of one model, so its weights need not be pretrained
        src = shared_dir()/'models'/'minilm-l6'; tok = load_tokenizer(src); torch.manual_seed(0)
        BertForSequenceClassification(AutoConfig.from_pretrained(src, num_labels=4)).save_pretrained(tmp/'bert')
        tok.save_pretrained(tmp/'bert'); return str(tmp/'bert')
    return {'tiny-gpt2': lambda: tiny_gpt2(tmp/'gpt2'), 'tiny-llama': llama,
            'minilm': lambda: str(shared_dir()/'models'/'minilm-l6'), 'minilm-shape': minilm_shape}

def no_dropout(model):
    "`model` with every dropout at 0 (compiled code draws other random masks than eager code)"
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout): m.p = 0.
    return model

def lora_run(src, ds, compiled, out) -> dict:
    "Probabilities, final loss and wall seconds (model load to predictions) of one LoRA run, compiled or eager"
    tok, t0 = load_tokenizer(src), time.perf_counter()
    torch.manual_seed(0)
    tr = make_trainer(add_lora(no_dropout(load_classifier(src, tok=tok)), dropout=0.), tok, ds(tok), TrainConfig(epochs=1, logging_steps=1000),
                      out=out, policy=DevicePolicy(compile=compiled))
    tr.train(); ev = evaluate(tr, tr.eval_dataset)
    return dict(probs=torch.tensor(ev['probs']), loss=tr.state.log_history[-1]['train_loss'], wall_s=time.perf_counter() - t0)

def check(name, src, n, tmp, mode=True) -> dict:
    "One model's eager and compiled runs (`mode`: True, the device's, or a torch.compile mode), and whether they agree"
    news = select_preset(load_news(shared_dir()/'data'/'ag_news'), 'tiny')
    ds = lambda tok: {s: d.select(range(n)) for s, d in tokenize(news, tok).items()}
    p = device_policy()
    eager, comp = (lora_run(src, ds, c, tmp/'run') for c in (False, mode))
    tol = TOL['bfloat16' if p.bf16 else 'float32']
    d_prob, d_loss = (eager['probs'] - comp['probs']).abs().max().item(), abs(eager['loss'] - comp['loss'])
    agree = (eager['probs'].argmax(-1) == comp['probs'].argmax(-1)).float().mean().item()
    return dict(model=name, texts=n, compile=mode, max_prob_diff=d_prob, loss_diff=d_loss, class_agreement=agree, tolerance=tol,
                within_tolerance=d_prob <= tol and d_loss <= tol, eager_wall_s=eager['wall_s'], compiled_wall_s=comp['wall_s'])

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--models', nargs='+', default=['tiny-gpt2', 'tiny-llama', 'minilm'],
                   choices=['tiny-gpt2', 'tiny-llama', 'minilm', 'minilm-shape'])
    p.add_argument('--compile-mode', choices=COMPILE_MODES, default=None, help="torch.compile's mode (default: the device policy's)")
    p.add_argument('--texts', type=int, default=64, help='training and test texts (the tiny preset has 256 and 128)')
    p.add_argument('--out', required=True)
    a = p.parse_args()
    quiet()
    with tempfile.TemporaryDirectory() as d:
        os.environ.setdefault('TORCHINDUCTOR_CACHE_DIR', str(Path(d)/'inductor'))   # compile from scratch, as a first run does
        rows, made = [], sources(Path(d))
        for m in a.models:
            try: rows.append(check(m, made[m](), a.texts, Path(d), a.compile_mode or True))
            except Exception as e: rows.append(dict(model=m, error=f'{type(e).__name__}: {e}'))   # one failure must not lose the rest
            print(rows[-1], flush=True)
            Path(a.out).write_text(json.dumps(dict(policy=str(device_policy()), versions=environment(), checks=rows), indent=1))

if __name__ == '__main__': main()
