"""Build the docs site into `_docs/` offline, without Quarto.

    python tools/docs/build.py [--workers N] [--incremental] [--strict]

Step 1 is nbdev's own processing, exactly what `nbdev-docs` does before it calls Quarto
(`nbdev.quarto._pre_docs` minus the Quarto install and the `_modidx.py` rebuild):
`refresh_quarto_yml` writes `nbs/nbdev.yml` (and `nbs/_quarto.yml` if missing), `nbdev_sidebar`
writes `nbs/sidebar.yml`, and `proc_nbs` turns `nbs/` into the Quarto project `_proc/`
(front matter, `show_doc` for every exported symbol, hidden cells dropped, directives).

Step 2 renders `_proc/` with smalldocs (pure Python, reads `_quarto.yml` + its metadata files).
Two small compatibility shims make it match Quarto for an nbdev project:
  * a page's `output-file` front matter is honoured (nbdev sets `00_data.ipynb` -> `data.html`);
  * a link may name a page by its output (`lora.html#x`) as well as by its source.

Step 3 makes `_docs/` self-contained: KaTeX (npm package `katex`, installed in tools/docs by
`npm ci`) is copied to `_docs/site_libs/katex/` and the CDN URLs smalldocs writes are pointed at
it; the theme's Google Fonts import is replaced by npm `@fontsource` files; links to the published
site (`site-url`, which nbdev's doc links use) become relative links. Any remaining external
script, stylesheet or font fails the build.
"""
import argparse, os, re, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
KATEX_DIST = HERE/'node_modules'/'katex'/'dist'


def log(*a): print('[docs]', *a, flush=True)


def nbdev_stage(workers: int, force: bool) -> Path:
    "nbdev's processing of `nbs/` into the Quarto project `_proc/` (as `nbdev-docs` does it)."
    os.chdir(ROOT)  # nbdev anchors its cwd at the project root too (`_pre_docs`)
    from nbdev.config import get_config
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    from nbdev.serve import proc_nbs
    cfg = get_config()
    refresh_quarto_yml()
    nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    import nbdev.processors as npr
    _warn = npr.warn  # nbdev warns once per such cell, with its source: list them once, briefly, instead
    npr.warn = lambda msg, *a, **k: None if str(msg).startswith('Found cells containing imports') else _warn(msg, *a, **k)
    mixed = mixed_cells(cfg.nbs_path)
    if mixed:
        log(f'{len(mixed)} cell(s) mix imports with other code. nbdev-docs (here and on GitHub) executes every such cell '
            'to build the show_doc output, out of context; move their imports into cells of their own:\n    ' + '\n    '.join(mixed))
    try: cache = proc_nbs(cfg.nbs_path, n_workers=workers, force=force)
    except Exception as e:
        sys.exit(f'[docs] nbdev could not process the notebooks (nbdev-docs would fail the same way):\n{e}')
    finally: npr.warn = _warn
    return Path(cache)


def mixed_cells(nbs: Path) -> list[str]:
    "Cells that nbdev's `exec_show_docs` runs only because they contain an import (see `nbdev.processors._do_eval`)."
    import ast
    from nbdev.process import NBProcessor
    from nbdev.processors import _do_eval, _want_doc
    res = []
    for f in sorted(nbs.glob('*.ipynb')):
        cells = NBProcessor(f, rm_directives=False).nb.cells
        if not any(_want_doc(c) for c in cells): continue  # nbdev executes nothing in a notebook without exports
        for i, c in enumerate(cells):
            if c.cell_type != 'code' or not _do_eval(c) or set(c.directives_) & {'export', 'exports', 'exporti', 'exec_doc'}: continue
            if any(not isinstance(t, (ast.Import, ast.ImportFrom)) for t in c.parsed_() or []):
                first = next((l for l in c.source.splitlines() if not l.startswith('#|')), '')
                res.append(f'{f.name} cell {i}: {first[:70]}')
    return res


def patch_smalldocs():
    "Make smalldocs follow two Quarto behaviours that nbdev projects rely on."
    import smalldocs.site as sds
    if getattr(sds.Site, '_lwft_patched', False): return
    read, find_page = sds.Site.read, sds.Site.find_page

    def read_(self, src):
        page = read(self, src)
        of = page.front.get('output-file') or page.meta.get('output-file')
        if of: page.out = src.parent/str(of)
        return page

    def find_page_(self, target):
        found = find_page(self, target)
        if found is None and target.suffix == '.html':
            found = next((p for p in self.pages.values() if p.out == target), None)
        return found

    sds.Site.read, sds.Site.find_page, sds.Site._lwft_patched = read_, find_page_, True


def render(proc: Path, strict: bool) -> Path:
    "Render the Quarto project `proc` with smalldocs; return the output folder."
    import smalldocs, smalldocs.site as sds
    from smalldocs.config import BuildError, ConfigError
    patch_smalldocs()
    log(f'smalldocs {smalldocs.__version__}: rendering {proc.relative_to(ROOT)}')
    try: site = sds.build(proc, quiet=True)
    except (BuildError, ConfigError) as e: sys.exit(f'[docs] smalldocs failed: {e}')
    # Warnings about the Quarto options nbdev writes that smalldocs has no use for (the commonmark
    # copies, keep-md, format-links; output-file, which the shim above handles) are expected.
    expected = re.compile(r'unknown key format-links|format commonmark is not built|keep-md is ignored|output-file is not read')
    for w in site.warnings:
        if not expected.search(w): log('smalldocs warning:', w)
    if strict and site.broken: sys.exit(f'[docs] {len(site.broken)} broken link(s), see above')
    return site.out


def vendor_katex(docs: Path):
    import smalldocs.layout as sdl
    if not (KATEX_DIST/'katex.min.js').exists():
        log('installing the npm packages of tools/docs/package-lock.json (KaTeX, the theme font)')
        npm = shutil.which('npm')
        if not npm or subprocess.run([npm, 'ci', '--prefix', str(HERE), '--no-audit', '--no-fund', '--ignore-scripts']).returncode:
            sys.exit(f'[docs] KaTeX is missing and `npm ci --prefix {HERE.relative_to(ROOT)}` failed (is Node.js/npm installed?)')
    dest = docs/'site_libs'/'katex'
    shutil.copytree(KATEX_DIST, dest, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns('*.mjs', 'katex.js', 'katex.css', 'README.md'))
    shutil.copy(KATEX_DIST.parent/'LICENSE', dest/'LICENSE')
    return sdl.KATEX.rstrip('/')


GFONTS = re.compile(r'@import\s+url\(\s*["\']?(https://fonts\.googleapis\.com/css2?\?[^"\')]+)["\']?\s*\)\s*;?')


def vendor_fonts(docs: Path, css: Path, url: str) -> str:
    "Replace a Google Fonts `@import` (the Bootswatch themes have one) with a copy of the npm `@fontsource` files."
    from urllib.parse import urlsplit, parse_qs
    out = []
    for fam in parse_qs(urlsplit(url).query).get('family', []):
        name, _, axes = fam.partition(':')
        weights = re.findall(r'\d{3}', axes.partition('@')[2]) or ['400']
        slug = name.strip().lower().replace(' ', '-')
        pkg = HERE/'node_modules'/'@fontsource'/slug
        if not pkg.is_dir():
            sys.exit(f'[docs] {css.name} imports the web font {name!r}: add the npm package @fontsource/{slug} to tools/docs/package.json')
        dest = docs/'site_libs'/'fonts'/slug
        text = ''.join((pkg/f'{w}.css').read_text() for w in dict.fromkeys(weights) if (pkg/f'{w}.css').exists())
        for f in sorted(set(re.findall(r'url\(\./(files/[^)]+)\)', text))):
            (dest/f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(pkg/f, dest/f)
        shutil.copy(pkg/'LICENSE', dest/'LICENSE')
        (dest/'fonts.css').write_text(text)
        out.append(f'@import url("{os.path.relpath(dest/"fonts.css", css.parent)}");')
    return ''.join(out)


def postprocess(docs: Path, site_url: str):
    "Point CDN assets at the bundled copies and links to the published site at the local pages."
    katex_cdn = vendor_katex(docs)
    bad = []
    for css in sorted(docs.rglob('*.css')):
        s = css.read_text(encoding='utf-8')
        s2 = GFONTS.sub(lambda m: vendor_fonts(docs, css, m.group(1)), s)
        if s2 != s: css.write_text(s2, encoding='utf-8')
        for m in re.finditer(r'(?:@import\s+|url\()\s*["\']?((?:https?:)?//[^"\')\s]+)', s2):
            bad.append(f'{css.relative_to(docs)}: {m.group(1)}')
    base = site_url.rstrip('/') + '/'
    ext_asset = re.compile(r'<(?:script|link)\b[^>]*?(?:src|href)="((?:https?:)?//[^"]+)"', re.I)
    for f in sorted(docs.rglob('*.html')):
        rel = f.relative_to(docs)
        off = '../'*(len(rel.parts)-1)
        s = f.read_text(encoding='utf-8')
        s = s.replace(katex_cdn + '/', off + 'site_libs/katex/')
        def local(m):
            path = m.group(2)
            target = path.split('#')[0].split('?')[0] or 'index.html'
            if (docs/target).exists(): return f'{m.group(1)}"{off}{path or "index.html"}"'
            return m.group(0)
        s = re.sub(r'(<a\b[^>]*?\bhref=)"' + re.escape(base) + r'([^"]*)"', local, s)
        for m in ext_asset.finditer(s):
            if 'rel="canonical"' in m.group(0) or 'rel="alternate"' in m.group(0): continue
            bad.append(f'{rel}: {m.group(1)}')
        f.write_text(s, encoding='utf-8')
    if bad: sys.exit('[docs] external scripts, stylesheets or fonts left in the site (it must work offline):\n  ' + '\n  '.join(bad))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--workers', type=int, default=int(os.environ.get('DOCS_WORKERS', 0)),
                    help="nbdev processing workers (0: serial, the default; nbdev-docs uses one per CPU)")
    ap.add_argument('--incremental', action='store_true',
                    help="reuse _proc/ for notebooks that did not change (faster, but show_doc output goes stale when only lightweight_ft/*.py changed); by default every notebook is processed afresh, as on GitHub's clean checkout")
    ap.add_argument('--strict', action='store_true', help='fail on broken links that smalldocs finds')
    a = ap.parse_args()
    t0 = time.time()
    proc = nbdev_stage(a.workers, force=not a.incremental)
    log(f'nbdev processing done in {time.time()-t0:.1f}s')
    from nbdev.config import get_config
    cfg = get_config()
    out = render(proc, a.strict)
    docs = cfg.doc_path  # _docs/, from pyproject's [tool.nbdev] doc_path
    if out.resolve() != docs.resolve():
        shutil.rmtree(docs, ignore_errors=True)
        shutil.move(str(out), str(docs))
    site_url = f"{cfg.doc_host}{cfg.doc_baseurl}"
    postprocess(docs, site_url)
    n = len(list(docs.rglob('*.html')))
    log(f'wrote {n} page(s) to {docs.relative_to(ROOT)}/ in {time.time()-t0:.1f}s')


if __name__ == '__main__': main()
