"""Time whole `lightweight-ft compare` commands on a real model, taking turns, and write the medians as JSON.

    python bench/real_ab.py --rounds 3 --warmup 1 --out bench/results/real/NAME.json \
        --name defaults 'lightweight-ft compare ... --out {out}' --name 'float32' 'lightweight-ft compare ... --bf16 false --out {out}'

Each round runs every command once, in the order given, each into a fresh `{out}` folder (so no record is reused); the
warm-up rounds are run and not counted. A run's wall time is the whole process, model loading included; its training
speed and accuracy come from the records it wrote. With `--keep DIR` each counted run's report and records are kept in
`DIR/<name>/round<k>/` (not what it trained), so its predictions can be paired later. Ratios (wall time, training
samples/s) are each command's against the first's in the same round, then the median over rounds.
"""
import argparse, json, os, shlex, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path


def run_once(cmd, out):
    "Wall seconds of `cmd` (its `{out}` set to `out`, emptied first) and what its records say"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(shlex.split(cmd.format(out=out)), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    recs = {p.stem: json.loads(p.read_text()) for p in sorted(Path(out, 'records').glob('*.json'))}
    return dict(wall_s=round(wall, 1), **{f'{m}_{k}': r.get(k) for m, r in recs.items()
                                           for k in ('train_s', 'train_samples_per_s', 'eval_s', 'accuracy')})


def slug(name):
    "`name` as a folder name: letters, digits and dashes"
    return '-'.join(''.join(c if c.isalnum() else ' ' for c in name.lower()).split())


def keep_run(out, dest):
    "Copy run folder `out` to `dest`, without what it trained (checkpoints, adapters, compiled code)"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(out, dest, ignore=lambda d, names: [n for n in names if Path(d, n).is_dir() and n != 'records'])


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--out', required=True, help='the JSON file to write')
    ap.add_argument('--keep', help="a folder to keep each counted run's report and records in")
    ap.add_argument('--name', action='append', required=True, help='a name for the command that follows it')
    ap.add_argument('commands', nargs='+', help="each with '{out}' where its output folder goes")
    a = ap.parse_intermixed_args(argv)
    if len(a.name) != len(a.commands): ap.error('give one --name per command')
    runs, load0 = {n: [] for n in a.name}, os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(a.warmup + a.rounds):
            for n, cmd in zip(a.name, a.commands):
                r = run_once(cmd, str(Path(tmp)/'run'))
                print(f'round {rnd}{" (warm-up)" if rnd < a.warmup else ""} {n}: {r}', flush=True)
                if rnd >= a.warmup: runs[n].append(r)
                if rnd >= a.warmup and a.keep: keep_run(Path(tmp)/'run', Path(a.keep)/slug(n)/f'round{rnd - a.warmup}')
    first = a.name[0]
    keys = sorted({k for rs in runs.values() for r in rs for k in r})
    from lightweight_ft.utils import environment
    env = environment()
    res = dict(what=__doc__.split('\n')[0], machine=env['device'], versions=env, cpus=os.cpu_count(),
               threads=os.environ.get('OMP_NUM_THREADS'), rounds=a.rounds, warmup=a.warmup,
               load_average_at_start=load0,
               commands=dict(zip(a.name, a.commands)), kept=a.keep, runs=runs,
               medians={n: {k: median_of(rs, k) for k in keys} for n, rs in runs.items()},
               ratio_vs_first={n: {k: statistics.median(r[k] / f[k] for r, f in zip(rs, runs[first]))
                                   for k in keys if (k == 'wall_s' or k.endswith('train_samples_per_s'))
                                   and all(r.get(k) and f.get(k) for r, f in zip(rs, runs[first]))}
                               for n, rs in runs.items()})
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    print(json.dumps(res['medians'], indent=1), json.dumps(res['ratio_vs_first'], indent=1), sep='\n')


if __name__ == '__main__':
    sys.exit(main())
