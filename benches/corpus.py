#!/usr/bin/env python3
"""Writes a deterministic benchmark corpus in gen's format (and, with --hugo,
one Hugo project per site from the same articles).

    python3 benches/corpus.py OUT --sites 15 --articles 2000 [--seed 1] [--hugo] [--shape mixed|code|lists|long]

Page bundles with 0-3 PNG images each, Korean and English text, headings,
lists, tables, code blocks, footnotes, links between articles, tags,
categories and authors. Shapes (one corpus each, so no single shape can
flatter either generator):
  mixed  the above, one short code block per article
  code   four to eight distinct code blocks per article in six languages
  lists  short articles with six to twelve tags out of 3,000 (many term pages)
  long   articles five to eight times as long, more sections and tables
"""
import argparse, os, random, struct, zlib

KO = ("경제 정부 시장 기업 투자 금리 물가 수출 반도체 교통 주거 청년 교육 환경 기후 "
      "선거 국회 지역 문화 기술 인공지능 데이터 연구 발표 조사 결과 전망 분석 정책 변화").split()
EN = ("market government company investment rate inflation export research data policy "
      "analysis survey result forecast climate energy city transport housing education").split()
TAGS = ["경제", "정치", "사회", "기술", "data", "climate", "AI", "교통", "주거", "research",
        "open data", "반도체", "금리", "health", "문화", "sports", "election", "science"]
SECTIONS = ["news", "economy", "society", "tech", "opinion"]
AUTHORS = [f"author{i}" for i in range(20)]
# The `lists` shape: a large tag vocabulary, as a newsroom's tags grow.
MANY_TAGS = [f"{w}{i}" for i, w in enumerate(TAGS * 167)][:3000]
CODE = {
    "python": lambda r, n: [f"def {n}(xs, k={r.randint(1, 9)}):", f"    \"\"\"Sum of {n}.\"\"\"",
                             f"    return sum(x * k for x in xs if x > {r.randint(0, 99)})"],
    "rust": lambda r, n: [f"fn {n}(xs: &[u64]) -> u64 {{", f"    xs.iter().filter(|&&x| x > {r.randint(0, 99)}).map(|x| x * {r.randint(1, 9)}).sum()", "}"],
    "javascript": lambda r, n: [f"export function {n}(xs) {{", f"  return xs.filter((x) => x > {r.randint(0, 99)}).reduce((a, b) => a + b, 0);", "}"],
    "go": lambda r, n: [f"func {n}(xs []int) int {{", "\ttotal := 0", "\tfor _, x := range xs {", f"\t\ttotal += x * {r.randint(1, 9)}", "\t}", "\treturn total", "}"],
    "bash": lambda r, n: [f"{n}() {{", f"  find \"$1\" -name '*.md' -mtime -{r.randint(1, 30)} | wc -l", "}"],
    "sql": lambda r, n: [f"SELECT section, count(*) AS {n}", "FROM articles", f"WHERE year >= {r.randint(2010, 2024)}", "GROUP BY section ORDER BY 2 DESC;"],
}


def png(w, h, rgb):
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def sentence(rng, words, n):
    return " ".join(rng.choice(words) for _ in range(n)) + "."


def code_block(rng, idx, k):
    lang = rng.choice(sorted(CODE))
    return [f"```{lang}"] + CODE[lang](rng, f"f{idx}_{k}") + ["```", ""]


def article(rng, site, idx, n, korean, fixed_images=None, shape="mixed"):
    words = KO if korean else EN
    title = sentence(rng, words, rng.randint(3, 7)).rstrip(".")
    year = 2015 + idx % 10
    date = f"{year}-{1 + idx % 12:02d}-{1 + idx % 28:02d}"
    if shape == "lists":
        tags = sorted(set(rng.sample(MANY_TAGS, rng.randint(6, 12))))
    else:
        tags = sorted(set(rng.sample(TAGS, rng.randint(1, 4))))
    authors = rng.sample(AUTHORS, rng.randint(1, 2))
    images = rng.randint(0, 3)
    if fixed_images is not None:
        images = fixed_images
    other = rng.randrange(n)
    body = [sentence(rng, words, rng.randint(12, 30)) + "[^1]", ""]
    sections = {"mixed": (2, 4), "code": (2, 4), "lists": (1, 1), "long": (10, 16)}[shape]
    for h in range(rng.randint(*sections)):
        body += [f"## {sentence(rng, words, 3).rstrip('.')} {h}", ""]
        body += [sentence(rng, words, rng.randint(20, 40)) for _ in range(rng.randint(2, 4))] + [""]
        body += [f"- {sentence(rng, words, 5)}" for _ in range(3)] + [""]
        if shape == "code":
            body += code_block(rng, idx, h)
        if shape == "long" and h % 3 == 2:
            body += ["| 항목 | value | 변화 |", "|---|---:|---:|"]
            body += [f"| {rng.choice(words)} | {rng.randint(1, 999)} | {rng.randint(-9, 9)}% |" for _ in range(6)] + [""]
    body += ["| 항목 | value | 변화 |", "|---|---:|---:|"]
    body += [f"| {rng.choice(words)} | {rng.randint(1, 999)} | {rng.randint(-9, 9)}% |" for _ in range(4)] + [""]
    if shape == "code":
        body += code_block(rng, idx, 9) + code_block(rng, idx, 10)
    else:
        body += ["```python", "def total(xs):", "    return sum(x * 2 for x in xs)", "```", ""]
    for i in range(images):
        body += [f"![{rng.choice(words)}](img{i}.png)", ""]
    body += [f"See also [another article](/{SECTIONS[other % len(SECTIONS)]}/a{other:05d}/).", ""]
    body += [f"[^1]: {sentence(rng, words, 6)}", ""]
    fm = [
        "---",
        f'title: "{title}"',
        f"date: {date}",
        f"authors: [{', '.join(authors)}]",
        f"tags: [{', '.join(tags)}]",
        f"categories: [{rng.choice(['국내', 'world', 'analysis'])}]",
        "---",
    ]
    return "\n".join(fm + body), images, date, tags


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--sites", type=int, default=15)
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hugo", action="store_true", help="also write hugo/<site>/ projects")
    ap.add_argument("--images", type=int, default=None, help="images per article (default: 0-3 at random)")
    ap.add_argument("--unique-images", action="store_true", help="every image has distinct bytes (default: 64 shared images)")
    ap.add_argument("--shape", choices=["mixed", "code", "lists", "long"], default="mixed")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    out = a.out
    os.makedirs(os.path.join(out, "content"), exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    theme_src = os.path.join(here, "..", "themes", "default")
    if not os.path.exists(os.path.join(out, "themes")):
        os.makedirs(os.path.join(out, "themes"))
        os.symlink(os.path.abspath(theme_src), os.path.join(out, "themes", "default"))
    with open(os.path.join(out, "content", "authors.yaml"), "w") as f:
        for au in AUTHORS:
            f.write(f"{au}:\n  name: 기자 {au}\n  position: reporter\n  bio: Writes about {rng.choice(EN)}.\n")
    cfg = ["paginate = 10", ""]
    images = [png(8 + i, 8, (i * 7 % 256, i * 13 % 256, i * 29 % 256)) for i in range(64)]
    for s in range(a.sites):
        name = f"site{s:02d}"
        korean = s % 3 != 2
        cfg += ["[[sites]]", f'name = "{name}"', f'title = "Site {s}"', f'base_url = "https://{name}.example.com/"',
                f'language = "{"ko" if korean else "en"}"', ""]
        for i in range(a.articles):
            text, n_img, date, tags = article(rng, name, i, a.articles, korean, a.images, a.shape)
            d = os.path.join(out, "content", name, SECTIONS[i % len(SECTIONS)], f"a{i:05d}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "index.md"), "w") as f:
                f.write(text)
            for k in range(n_img):
                with open(os.path.join(d, f"img{k}.png"), "wb") as f:
                    img = images[rng.randrange(len(images))]
                    if a.unique_images:
                        # A distinct tEXt chunk before IEND: a new image, same pixels.
                        tag = f"{name}/{i}/{k}".encode()
                        text_chunk = struct.pack(">I", len(tag) + 3) + b"tEXtid\x00" + tag + struct.pack(">I", zlib.crc32(b"tEXtid\x00" + tag) & 0xFFFFFFFF)
                        img = img[:-12] + text_chunk + img[-12:]
                    f.write(img)
            if a.hugo:
                hd = os.path.join(out, "hugo", name, "content", SECTIONS[i % len(SECTIONS)], f"a{i:05d}")
                os.makedirs(hd, exist_ok=True)
                with open(os.path.join(hd, "index.md"), "w") as f:
                    f.write(text.replace("authors: [", "writers: ["))
                for k in range(n_img):
                    with open(os.path.join(hd, f"img{k}.png"), "wb") as f:
                        f.write(images[k])
        if a.hugo:
            write_hugo_site(os.path.join(out, "hugo", name), name, korean)
    with open(os.path.join(out, "sites.toml"), "w") as f:
        f.write("\n".join(cfg))


def write_hugo_site(root, name, korean):
    """A minimal but comparable Hugo project: same pages, lists, taxonomies, feeds."""
    os.makedirs(os.path.join(root, "layouts", "_default"), exist_ok=True)
    with open(os.path.join(root, "hugo.toml"), "w") as f:
        f.write(f'baseURL = "https://{name}.example.com/"\ntitle = "{name}"\nlanguageCode = "{"ko" if korean else "en"}"\n'
                'paginate = 10\n[taxonomies]\ntag = "tags"\ncategory = "categories"\n'
                '[markup.highlight]\nnoClasses = false\n[minify]\nminifyOutput = true\n')
    layouts = {
        "baseof.html": '<!doctype html><html><head><meta charset="utf-8"><title>{{ .Title }}</title>'
                       '<link rel="canonical" href="{{ .Permalink }}"></head><body><main>{{ block "main" . }}{{ end }}</main></body></html>',
        "single.html": '{{ define "main" }}<article><h1>{{ .Title }}</h1><time>{{ .Date.Format "2006-01-02" }}</time>'
                       '{{ .Content }}{{ range .Params.tags }}<a href="/tags/{{ . | urlize }}/">{{ . }}</a>{{ end }}</article>{{ end }}',
        "list.html": '{{ define "main" }}<h1>{{ .Title }}</h1><ul>{{ range .Paginator.Pages }}<li><a href="{{ .RelPermalink }}">'
                     '{{ .Title }}</a> {{ .Summary | plainify | truncate 200 }}</li>{{ end }}</ul>{{ end }}',
        "terms.html": '{{ define "main" }}<ul>{{ range .Data.Terms.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">'
                      '{{ .Page.Title }}</a> {{ .Count }}</li>{{ end }}</ul>{{ end }}',
    }
    for fname, body in layouts.items():
        with open(os.path.join(root, "layouts", "_default", fname), "w") as f:
            f.write(body)


if __name__ == "__main__":
    main()
