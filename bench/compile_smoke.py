"""Does torch.compile itself work on this machine, before any of the package's code runs?

Four plain-PyTorch cases, each printed before it starts (a crash names the case it happened in; PYTHONFAULTHANDLER=1
prints Python's stack): a pointwise function, a small MLP's forward and backward under the device's autocast in the
default mode, the same MLP with CUDA graphs (`reduce-overhead`), and last with dynamic shapes over three batch sizes
(PyTorch's issue 105169: recorded backward passes with dynamic shapes crashed). `bench/gpu_check.sh` runs it first,
so a failing compile check can be told apart from a broken compiler.

    python bench/compile_smoke.py --out smoke.json
"""
import argparse, json, time
from pathlib import Path
import torch

def mlp_step(mode, device, dynamic=None, rows=(32,)):
    "Seconds of a compiled MLP's first steps, one per batch size in `rows` (compiling included), and its largest gradient error"
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.Linear(256, 4)).to(device)
    def grads(f):
        m.zero_grad()
        with torch.autocast(device.split(':')[0], dtype=torch.bfloat16): f(x).float().pow(2).mean().backward()
        return [p.grad.clone() for p in m.parameters()]
    c, diff, t0 = torch.compile(m, mode=mode, dynamic=dynamic), 0., time.perf_counter()
    for n in rows:
        x = torch.randn(n, 64, device=device); eager = grads(m)
        diff = max([diff] + [(a - b).abs().max().item() for a, b in zip(eager, grads(c))])
    return dict(seconds=time.perf_counter() - t0, max_grad_diff=diff)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0]); p.add_argument('--out', required=True); a = p.parse_args()
    device = 'cuda:0' if torch.cuda.is_available() else 'cpu'
    cases = {'pointwise': lambda: dict(max_diff=(torch.compile(lambda t: t.sin() + 1)(t := torch.randn(8, device=device))
                                                 - (t.sin() + 1)).abs().max().item()),
             'mlp-default': lambda: mlp_step('default', device),
             'mlp-reduce-overhead': lambda: mlp_step('reduce-overhead', device),
             'mlp-reduce-overhead-dynamic': lambda: mlp_step('reduce-overhead', device, dynamic=True, rows=(32, 64, 96))}
    res = dict(torch=torch.__version__, device=device, cases={})
    for name, run in cases.items():
        print('starting', name, flush=True)
        try: res['cases'][name] = dict(ok=True, **run())
        except Exception as e: res['cases'][name] = dict(ok=False, error=f'{type(e).__name__}: {e}')
        print(name, res['cases'][name], flush=True)
        Path(a.out).write_text(json.dumps(res, indent=1))

if __name__ == '__main__': main()
