#!/usr/bin/env python3
"""Writes a news corpus for the search benchmark (benches/search.sh): sites of
Korean or English articles with a news-like vocabulary, so that index sizes
are realistic (benches/corpus.py draws from 30 words: too few terms).

    python3 benches/search_corpus.py OUT --sites 15 --articles 7000 [--seed 1]

Korean words are 1-4 syllables drawn from common syllables, with particles
attached as in running text; English words are pseudo-words with real
suffixes (-ing, -ed, -s, -ly). Words follow Zipf's law. Bodies are 8-20
paragraphs (about 2,000-4,000 characters). Tags come from a pool of 2,000,
authors from 200.

Two words carry the benchmark's checks: 금리 never appears on its own, only
inside 기준금리를 (so a search for 금리 finds articles only if it matches
inside words), and about one sentence in 500 says "publishing" (Korean
articles quote English words too).
"""
import argparse, os, random, itertools, bisect

SYLLABLES = ("가 각 간 감 강 개 거 건 검 게 결 경 계 고 공 과 관 광 교 구 국 군 권 규 그 근 글 기 김 "
             "나 남 내 년 노 농 누 능 다 단 담 당 대 도 독 동 두 등 라 래 력 련 령 로 록 료 류 률 리 림 "
             "마 만 말 매 면 명 모 목 무 문 물 미 민 바 박 반 발 방 배 법 변 별 병 보 복 본 부 북 분 비 "
             "사 산 상 새 생 서 석 선 설 성 세 소 속 손 수 순 술 시 식 신 실 심 아 안 야 양 어 언 업 "
             "여 역 연 열 영 예 오 온 완 외 요 용 우 운 원 월 위 유 율 은 음 의 이 인 일 임 입 자 작 "
             "장 재 저 적 전 절 점 정 제 조 종 주 준 중 증 지 직 진 질 차 착 참 창 채 책 처 천 철 청 체 "
             "초 총 최 추 축 출 충 취 측 치 카 코 타 탄 태 토 통 투 특 파 판 평 포 표 품 프 피 하 학 한 "
             "할 함 합 항 해 행 향 허 현 협 형 호 화 확 환 활 회 효 후 휴 흥 희").split()
PARTICLES = ["", "", "", "은", "는", "이", "가", "을", "를", "의", "에", "에서", "으로", "로", "와", "과", "도", "만",
             "까지", "부터", "에게", "처럼", "했다", "한다", "하는", "했던", "된다", "됐다"]
LETTERS = "etaoinshrdlucmfwypvbgk"
SUFFIXES = ["", "", "", "s", "ing", "ed", "ly", "er", "ion", "al"]
SECTIONS = ["politics", "economy", "society", "world", "tech", "culture"]


def zipf_cum(n, s=1.07):
    w = [1 / (r ** s) for r in range(1, n + 1)]
    return list(itertools.accumulate(w))


def korean_vocab(rng, n):
    cum = zipf_cum(len(SYLLABLES), 0.8)
    words = set()
    while len(words) < n:
        k = rng.choice([1, 2, 2, 2, 3, 3, 3, 4])
        w = "".join(rng.choices(SYLLABLES, cum_weights=cum, k=k))
        if "금리" not in w and "준금" not in w:
            words.add(w)
    return sorted(words)


REAL = ("market government company investment rate inflation export research data policy analysis survey "
        "result forecast climate energy city transport housing education election court health science report "
        "budget vote minister council school hospital price wage worker union trade bank").split()


def english_vocab(rng, n):
    words = set(REAL)
    while len(words) < n:
        stem = "".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 8)))
        words.add(stem + rng.choice(SUFFIXES))
    return sorted(words)


class Talker:
    def __init__(self, rng, vocab, korean, english=None):
        self.rng, self.korean, self.english = rng, korean, english
        self.vocab = vocab[:]
        rng.shuffle(self.vocab)
        self.cum = zipf_cum(len(self.vocab))

    def words(self, k):
        ws = self.rng.choices(self.vocab, cum_weights=self.cum, k=k)
        if self.korean:
            ps = self.rng.choices(PARTICLES, k=k)
            ws = [w + p for w, p in zip(ws, ps)]
        return ws

    def sentence(self, k):
        ws = self.words(k)
        if self.korean and self.rng.random() < 0.05:
            ws[self.rng.randrange(k)] = "기준금리를"
        # Korean news quotes English words now and then.
        if self.korean and self.english and self.rng.random() < 0.3:
            ws[self.rng.randrange(k)] = self.rng.choice(self.english)
        if self.rng.random() < 0.002:
            ws[self.rng.randrange(k)] = "publishing"
        return " ".join(ws) + "."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--sites", type=int, default=15)
    ap.add_argument("--articles", type=int, default=7000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--network", action="store_true", help="search all sites together ([search] network)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ko_vocab, en_vocab = korean_vocab(rng, 60000), english_vocab(rng, 40000)
    tags = [f"태그{i}" if i % 2 else f"tag{i}" for i in range(2000)]
    tag_cum = zipf_cum(len(tags))
    authors = [f"author{i}" for i in range(200)]
    os.makedirs(a.out, exist_ok=True)
    names = [f"s{i:02d}" for i in range(a.sites)]
    with open(os.path.join(a.out, "sites.toml"), "w") as f:
        f.write('output = "public"\ntheme = "default"\npaginate = 20\n\n')
        if a.network:
            f.write("search_network = true\n\n")
        for i, name in enumerate(names):
            korean = i % 3 != 2
            f.write(f'[[sites]]\nname = "{name}"\ntitle = "Site {i}"\nbase_url = "https://{name}.example.com/"\n'
                    f'language = "{"ko" if korean else "en"}"\n\n')
    if not os.path.exists(os.path.join(a.out, "themes")):
        os.makedirs(os.path.join(a.out, "themes"))
        here = os.path.dirname(os.path.abspath(__file__))
        os.symlink(os.path.join(here, "..", "themes", "default"), os.path.join(a.out, "themes", "default"))
    os.makedirs(os.path.join(a.out, "content"), exist_ok=True)
    with open(os.path.join(a.out, "content", "authors.yaml"), "w") as f:
        for au in authors:
            f.write(f"{au}:\n  name: 기자 {au[6:]}\n")
    for i, name in enumerate(names):
        korean = i % 3 != 2
        quoted = REAL + rng.sample(en_vocab, 2000)
        talk = Talker(rng, ko_vocab if korean else en_vocab, korean, quoted)
        for s in SECTIONS:
            os.makedirs(os.path.join(a.out, "content", name, s), exist_ok=True)
        for n in range(a.articles):
            day = n * 3650 // a.articles
            year, doy = 2015 + day // 365, day % 365
            date = f"{year}-{1 + doy // 31 % 12:02d}-{1 + doy % 28:02d}"
            title = " ".join(talk.words(rng.randint(5, 10)))
            paras = [" ".join(talk.sentence(rng.randint(8, 15)) for _ in range(rng.randint(2, 5)))
                     for _ in range(rng.randint(8, 20))]
            body = "\n\n".join(paras)
            t = sorted(set(rng.choices(tags, cum_weights=tag_cum, k=rng.randint(1, 4))))
            au = rng.sample(authors, rng.randint(1, 2))
            fm = ["---", f'title: "{title}"', f"date: {date}", f"authors: [{', '.join(au)}]",
                  f"tags: [{', '.join(t)}]", f"categories: [{rng.choice(['국내', 'world', 'analysis', 'opinion'])}]", "---", ""]
            path = os.path.join(a.out, "content", name, SECTIONS[n % len(SECTIONS)], f"a{n:05d}.md")
            with open(path, "w") as f:
                f.write("\n".join(fm) + body + "\n")


if __name__ == "__main__":
    main()
