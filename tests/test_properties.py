"Property tests: the data readers and `predict` on random input either work or raise a documented error whose message names the problem."
import csv, json, math, warnings
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lightweight_ft.data import LABELS, read_split

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
DOCUMENTED = (ValueError, FileNotFoundError)
text = st.one_of(st.text(max_size=40), st.text(max_size=3), st.text(min_size=2000, max_size=4000),   # any unicode, control characters too
                 st.text(alphabet=st.characters(codec='ascii'), max_size=20))
label = st.one_of(st.integers(-2, 6), st.sampled_from(LABELS), st.text(max_size=4), st.none(), st.booleans(),
                  st.floats(allow_infinity=True, allow_nan=True))
rows = st.lists(st.tuples(text, label), max_size=8)

def read(path):
    "The split read from `path`, or None after a documented error that names the file"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore'); ds = read_split(path)
    except DOCUMENTED as e:
        assert str(path) in str(e), str(e); return None
    assert all(0 <= l < len(LABELS) for l in ds['label']) and all(t.strip() for t in ds['text'])
    return ds

@FAST
@given(rows=rows)
def test_csv_reader(tmp_path, rows):
    p = tmp_path/'data.csv'
    with open(p, 'w', newline='', encoding='utf-8') as f:
        w = csv.writer(f); w.writerow(['text', 'label']); w.writerows(rows)
    ds = read(p)
    written = [(t, '' if l is None else str(l)) for t, l in rows]
    if ds is not None: assert ds['text'] == [t for t, l in written if t.strip() or l.strip()]   # blank lines are skipped, nothing else

@FAST
@given(rows=rows, drop=st.booleans())
def test_jsonl_reader(tmp_path, rows, drop):
    p = tmp_path/'data.jsonl'
    recs = [dict(text=t, label=l) if not drop or i else dict(text=t) for i, (t, l) in enumerate(rows)]
    p.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in recs), encoding='utf-8')
    ds = read(p)
    if ds is not None: assert ds['text'] == [t for t, _ in rows]

@FAST
@given(data=st.binary(max_size=200), suffix=st.sampled_from(['.csv', '.jsonl', '.parquet']))
def test_any_bytes(tmp_path, data, suffix):
    p = tmp_path/('data' + suffix); p.write_bytes(data)
    read(p)

@pytest.fixture(scope='module')
def tiny_model(tmp_path_factory):
    from lightweight_ft.models import load_classifier, load_tokenizer, tiny_gpt2
    tiny = tiny_gpt2(tmp_path_factory.mktemp('tiny'))
    tok = load_tokenizer(tiny)
    return load_classifier(tiny, tok=tok), tok

@settings(max_examples=15, deadline=None)
@given(texts=st.lists(st.one_of(st.text(max_size=30), st.just(''), st.text(min_size=1500, max_size=2500)), max_size=4))
def test_predict(tiny_model, texts):
    from lightweight_ft.inference import predict
    try: res = predict(*tiny_model, texts)
    except ValueError as e:
        assert any(not t.strip() for t in texts) and 'empty' in str(e); return
    assert [r['text'] for r in res] == texts
    assert all(r['label'] in LABELS and math.isclose(sum(r['probs'].values()), 1, rel_tol=1e-4) for r in res)
