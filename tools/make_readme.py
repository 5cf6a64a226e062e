"""Render nbs/index.ipynb to README.md (what `nbdev-readme` does through Quarto, which cannot be installed offline).

Markdown cells are copied; code cells are shown with their committed outputs, except `#| hide` cells;
`#| echo: false` shows only the output. Links to `../` (relative to nbs/) are rewritten for the repo root."""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def directives(src):
    return {m.group(1): m.group(2).strip() for m in re.finditer(r'^#\|\s*([\w-]+):?\s*(.*)$', src, re.M)}

def fix_links(md):
    "Links relative to nbs/ made relative to the repo root"
    md = re.sub(r'\]\(\.\./', '](', md)
    return re.sub(r'\]\((\d\d[a-z]?_\w+\.ipynb|index\.ipynb)\)', r'](nbs/\1)', md)

def render(nb_path):
    nb, parts = json.loads(Path(nb_path).read_text()), []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(fix_links(src)); continue
        d = directives(src)
        if 'hide' in d or 'default_exp' in d: continue
        code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
        if d.get('echo') != 'false' and code: parts.append(f'```python\n{code}\n```')
        for o in c.get('outputs', []):
            data = o.get('data', {})
            img = re.search(r"Image\(filename='\.\./([^']+)'\)", src)
            if 'image/png' in data and img: parts.append(f'![]({img.group(1)})')
            elif 'text/markdown' in data: parts.append(fix_links(''.join(data['text/markdown'])))
            elif o.get('output_type') == 'stream' or 'text/plain' in data:
                txt = ''.join(o.get('text', data.get('text/plain', ''))).rstrip()
                if txt: parts.append(f'```text\n{txt}\n```')
    return '<!-- generated from nbs/index.ipynb by tools/make_readme.py (`make readme`); edit the notebook, not this file -->\n\n' + '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    md = render(ROOT/'nbs'/'index.ipynb')
    if '--stdout' in sys.argv: sys.stdout.write(md)
    else: (ROOT/'README.md').write_text(md); print('wrote README.md')
