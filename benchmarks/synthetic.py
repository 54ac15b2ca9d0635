"""Synthetic source files for the benchmark: every corpus at its official split sizes (times a
scale), written in the format its ``shared/samples/*/SOURCE.md`` describes, under the file names of
its builder's ``Corpus.files``. ``tests/test_bench.py`` checks that every builder reads them
without one rejected record."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

from builders.fewfc import ROLE_NAMES as FEWFC_ROLE_NAMES



# Official split sizes (SOURCE.md, README); a split named test1/test2 counts as "test".
SIZES = {
    "duie": {"train": 171_000, "validation": 21_000, "test": 18_000},  # ≈ 210k records
    "duee": {"train": 11_958, "validation": 1_498, "test": 3_544},  # ≈ 17k
    "duee_fin": {"train": 7_015, "validation": 1_174, "test": 3_811},  # ≈ 12k documents
    "sanwen": {"train": 17_227, "validation": 1_793, "test": 2_220},  # lines
    "finre": {"train": 13_486, "validation": 1_489, "test": 3_727},
    "boson_ner": {"documents": 2_000, "train": 8_762, "validation": 1_095, "test": 1_096},  # BMES sentences
    "msra_ner": {"train": 46_364, "test": 4_365},  # sentences
    "weibo_ner": {"train": 1_350, "validation": 270, "test": 270},
    "resume_ner": {"train": 3_821, "validation": 463, "test": 477},
    "peoples_daily_ner": {"train": 20_864, "validation": 2_318, "test": 4_636},
    "cluener": {"train": 10_748, "validation": 1_343, "test": 1_345},
    # FewFC's splits join two files each: their own sizes (lines) are the counts written.
    "fewfc": {"train": 3_552, "test": 5_430, "train_base": 2_732, "train_trans": 820, "test_base": 1_821, "test_trans": 3_609},
    "cmeee": {"train": 15_000, "validation": 5_000, "test": 3_000},  # train ~15k (official, not counted)
    "cmeie": {"train": 14_000, "validation": 3_585, "test": 4_482},  # train ~14k (official, not counted)
    "chip_cdee": {"train": 1_587, "validation": 384, "test": 514},
}
DEFAULT_NER_TYPES = {
    "boson_ner": ["time", "location", "person_name", "org_name", "company_name", "product_name"],
    "msra_ner": ["PER", "LOC", "ORG"],
    "weibo_ner": ["PER.NAM", "PER.NOM", "LOC.NAM", "LOC.NOM", "GPE.NAM", "ORG.NAM", "ORG.NOM"],
    "resume_ner": ["CONT", "EDU", "LOC", "NAME", "ORG", "PRO", "RACE", "TITLE"],
    "peoples_daily_ner": ["PER", "LOC", "ORG"],
    "cluener": ["address", "book", "company", "game", "government", "movie", "name", "organization", "position", "scene"],
}
SANWEN_RELATIONS = ["unknown", "Create", "Use", "Near", "Social", "Located", "Ownership", "General-Special", "Family", "Part-Whole"]
MSRA_WORD_TAGS = {"PER": "nr", "LOC": "ns", "ORG": "nt"}
HANZI = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 3000))
PUNCT = "，。、；："


# ---------------------------------------------------------------- synthetic text


class Synth:
    """Deterministic random Chinese-looking text."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def chars(self, n: int) -> str:
        return "".join(self.rng.choices(HANZI, k=n))

    def word(self, lo: int = 2, hi: int = 4) -> str:
        return self.chars(self.rng.randint(lo, hi))

    def filler(self, lo: int = 2, hi: int = 12) -> str:
        text = self.chars(self.rng.randint(lo, hi))
        return text + self.rng.choice(PUNCT) if self.rng.random() < 0.3 else text

    def hex_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"


def ner_sentence(s: Synth, types: list, lo: int = 20, hi: int = 70) -> tuple:
    """``(text, [(type, start, end)])``: filler with about one mention per 12 characters."""
    text, spans, target = "", [], s.rng.randint(lo, hi)
    while len(text) < target:
        text += s.filler(2, 14)
        if s.rng.random() < 0.7:
            mention = s.word(2, 5)
            spans.append((s.rng.choice(types), len(text), len(text) + len(mention)))
            text += mention
    return text, spans


def char_tags(text: str, spans: list, scheme: str) -> list:
    """One tag per character: ``BIO`` or ``BMES``."""
    tags = ["O"] * len(text)
    for type_, start, end in spans:
        if scheme == "BMES" and end - start == 1:
            tags[start] = f"S-{type_}"
            continue
        tags[start] = f"B-{type_}"
        for i in range(start + 1, end):
            tags[i] = f"{'M' if scheme == 'BMES' else 'I'}-{type_}"
        if scheme == "BMES":
            tags[end - 1] = f"E-{type_}"
    return tags


# ---------------------------------------------------------------- one generator per format
# Each yields the lines of one file (without line endings); `labelled` is False for test1-like splits.


def duie_predicates() -> list:
    """48 predicates ``(name, subject_type, object_type)``; four carry extra object slots (n-ary)."""
    s = Synth(48)
    types = ["人物", "作品", "地点", "机构", "日期", "数字", "文本", "学校"]
    slots = [{"inWork": "影视作品"}, {"onDate": "日期"}, {"inArea": "地点"}, {"period": "日期", "onDate": "日期"}]
    out = []
    for i in range(48):
        object_type = {"@value": types[i % len(types)]}
        if i < len(slots):
            object_type.update(slots[i])
        out.append((s.word(2, 4), types[(i * 3) % len(types)], object_type))
    return out


DUIE_PREDICATES = duie_predicates()
# Complex (slotted) predicates are about 3% of the spo of the real dev file.
DUIE_WEIGHTS = [0.75 if i < 4 else 100 / 44 for i in range(48)]


def gen_duie_schema(s: Synth, n: int, labelled: bool) -> Iterator[str]:
    for predicate, subject_type, object_type in DUIE_PREDICATES:
        yield json.dumps({"object_type": object_type, "predicate": predicate, "subject_type": subject_type}, ensure_ascii=False)


def gen_duie(s: Synth, n: int, labelled: bool) -> Iterator[str]:
    for _ in range(n):
        pieces, spo_list = [s.filler(4, 20)], []
        for _ in range(s.rng.choice((1, 1, 1, 2, 2, 3, 5))):
            predicate, subject_type, object_type = s.rng.choices(DUIE_PREDICATES, DUIE_WEIGHTS)[0]
            subject, obj = s.word(2, 6), s.word(2, 8)
            objects = {"@value": obj}
            pieces += [subject, s.filler(), obj, s.filler()]
            for slot in object_type:
                if slot != "@value":
                    objects[slot] = s.word(2, 5)
                    pieces += [objects[slot], s.filler()]
            spo = {"predicate": predicate, "object_type": object_type, "subject_type": subject_type, "object": objects, "subject": subject}
            if s.rng.random() < 0.1:  # key order inside an spo is not fixed
                spo = dict(reversed(list(spo.items())))
            spo_list.append(spo)
        record = {"text": "".join(pieces)}
        if labelled:
            record["spo_list"] = spo_list
        yield json.dumps(record, ensure_ascii=False)


def duee_event_types() -> list:
    """65 ``(event_type, class, roles)``; some classes contain '/' as in 财经/交易."""
    s = Synth(65)
    classes = [s.word(2, 2) + ("/" + s.word(2, 2) if i % 3 == 0 else "") for i in range(9)]
    out = []
    for i in range(65):
        cls = classes[i % len(classes)]
        subtype = s.word(2, 3) + ("/" + s.word(2, 2) if i % 11 == 0 else "")
        out.append((f"{cls}-{subtype}", cls, ["时间"] + [s.word(2, 4) for _ in range(s.rng.randint(1, 4))]))
    return out


DUEE_TYPES = duee_event_types()


def gen_duee_schema(s: Synth, n: int, labelled: bool) -> Iterator[str]:
    for event_type, cls, roles in DUEE_TYPES:
        yield json.dumps({"event_type": event_type, "role_list": [{"role": r} for r in roles], "id": s.hex_id(), "class": cls}, ensure_ascii=False)


def gen_duee(s: Synth, n: int, labelled: bool) -> Iterator[str]:
    for _ in range(n):
        text, events = s.filler(4, 20), []
        for _ in range(s.rng.choice((1, 1, 1, 2))):
            event_type, cls, roles = s.rng.choice(DUEE_TYPES)
            arguments = []
            for role in s.rng.sample(roles, s.rng.randint(1, len(roles))):
                argument = s.word(2, 8)
                arguments.append({"argument_start_index": len(text), "role": role, "argument": argument, "alias": []})
                text += argument + s.filler()
            trigger = s.word(2, 2)
            events.append({"event_type": event_type, "trigger": trigger, "trigger_start_index": len(text), "arguments": arguments, "class": cls})
            text += trigger + s.filler()
        record = {"text": text, "id": s.hex_id()}
        if labelled:
            record["event_list"] = events
        yield json.dumps(record, ensure_ascii=False)


def duee_fin_event_types() -> list:
    s = Synth(13)
    out = [("公司上市", ["上市公司", "披露时间", "发行价格", "环节"])]
    for _ in range(12):
        out.append((s.word(2, 4), [s.word(2, 5) for _ in range(s.rng.randint(3, 8))]))
    return out


DUEE_FIN_TYPES = duee_fin_event_types()
LISTING_STAGES = ["筹备上市", "暂停上市", "正式上市", "终止上市"]


def gen_duee_fin_schema(s: Synth, n: int, labelled: bool) -> Iterator[str]:
    for event_type, roles in DUEE_FIN_TYPES:
        role_list = [{"role": r, "enum_items": LISTING_STAGES} if r == "环节" else {"role": r} for r in roles]
        yield json.dumps({"role_list": role_list, "event_type": event_type, "id": s.hex_id()}, ensure_ascii=False)


def gen_duee_fin(s: Synth, n: int, labelled: bool) -> Iterator[str]:
    for _ in range(n):
        pieces, events = [], []
        for _ in range(s.rng.choice((0, 1, 1, 1, 2, 2, 3)) if s.rng.random() > 0.13 else 0):
            event_type, roles = s.rng.choice(DUEE_FIN_TYPES)
            trigger, arguments = s.word(2, 2), []
            pieces += [s.filler(20, 80), trigger]
            for role in s.rng.sample(roles, s.rng.randint(2, len(roles))):
                if role == "环节":  # enum values need not occur in the text
                    arguments.append({"role": role, "argument": s.rng.choice(LISTING_STAGES)})
                    continue
                argument = s.word(2, 10)
                arguments.append({"role": role, "argument": argument})
                pieces += [s.filler(5, 40), argument]
            events.append({"trigger": trigger, "event_type": event_type, "arguments": arguments})
        pieces += [s.filler(60, 300)]
        body = "".join(p + ("\n" if s.rng.random() < 0.03 else "\u200b" if s.rng.random() < 0.01 else "") for p in pieces)
        record = {"text": body}
        if labelled and events:  # documents without events have no event_list key
            record["event_list"] = events
        record.update(id=s.hex_id(), title=s.filler(8, 24))
        yield json.dumps(record, ensure_ascii=False)


def relation_pairs(s: Synth, n: int, relations: list, placeholder: bool) -> Iterator[tuple]:
    """``(head, tail, relation, sentence)`` lines, several per sentence as in SanWen/FinRE."""
    written = 0
    while written < n:
        mentions = [s.word(2, 4) + ("<N>" if placeholder and s.rng.random() < 0.05 else "") for _ in range(s.rng.randint(2, 4))]
        sentence = "".join(s.filler(3, 15) + m for m in mentions) + s.filler(0, 10) + "。"
        if placeholder:
            sentence = sentence.replace(sentence[5:7], "<N>", 1)
        for _ in range(min(s.rng.randint(1, 4), n - written)):
            head, tail = s.rng.sample(mentions, 2)
            yield head, tail, s.rng.choice(relations), sentence
            written += 1


def gen_sanwen(relations: list) -> Callable:
    def gen(s: Synth, n: int, labelled: bool) -> Iterator[str]:
        for fields in relation_pairs(s, n, relations, placeholder=True):
            yield "\t".join(fields)

    return gen


def gen_finre(relations: list) -> Callable:
    def gen(s: Synth, n: int, labelled: bool) -> Iterator[str]:
        for fields in relation_pairs(s, n, relations, placeholder=False):
            yield "\t".join(fields)
            yield ""  # each record is followed by an empty line

    return gen


def gen_relation2id(relations: list, sep: str) -> Callable:
    def gen(s: Synth, n: int, labelled: bool) -> Iterator[str]:
        for i, label in enumerate(relations):
            yield f"{label}{sep}{i}"

    return gen


def gen_boson_inline(types: list) -> Callable:
    """BosonNLP_NER_6C.txt: one document per line, ``{{type:text}}`` markup, literal ``\\n`` escapes."""

    def gen(s: Synth, n: int, labelled: bool) -> Iterator[str]:
        for _ in range(n):
            parts = []
            for _ in range(s.rng.randint(4, 20)):
                mention = (" " if s.rng.random() < 0.02 else "") + s.word(2, 6)
                parts.append(s.filler(5, 25) + f"{{{{{s.rng.choice(types)}:{mention}}}}}")
                if s.rng.random() < 0.05:
                    parts.append("\\n")
            yield "".join(parts) + s.filler(2, 20)

    return gen


def gen_char_tagged(types: list, scheme: str, sep: str, weibo: bool = False) -> Callable:
    """One ``char<sep>tag`` per line, a blank line after every sentence (MSRA, People's Daily, Resume, Boson BMES, Weibo)."""

    def gen(s: Synth, n: int, labelled: bool) -> Iterator[str]:
        for _ in range(n):
            text, spans = ner_sentence(s, types, 20, 75)
            for i, (char, tag) in enumerate(zip(text, char_tags(text, spans, scheme))):
                yield f"{char}{i % 2 if weibo else ''}{sep}{tag}"
            yield ""

    return gen


def gen_msra_words(types: list, labelled: bool = True) -> Callable:
    """testright1.txt: ``word/tag`` tokens separated by spaces (trailing space); test1.txt: raw text."""

    def gen(s: Synth, n: int, _labelled: bool) -> Iterator[str]:
        for _ in range(n):
            text, spans = ner_sentence(s, types, 20, 75)
            if not labelled:
                yield text
                continue
            tokens, pos = [], 0
            for type_, start, end in spans:
                if start > pos:
                    tokens.append(f"{text[pos:start]}/o")
                tokens.append(f"{text[start:end]}/{MSRA_WORD_TAGS.get(type_, type_.lower())}")
                pos = end
            if pos < len(text):
                tokens.append(f"{text[pos:]}/o")
            yield " ".join(tokens) + " "

    return gen


def gen_cluener(types: list) -> Callable:
    def gen(s: Synth, n: int, labelled: bool) -> Iterator[str]:
        for i in range(n):
            text, spans = ner_sentence(s, types, 8, 50)
            if not labelled:
                yield json.dumps({"id": i, "text": text}, ensure_ascii=False)
                continue
            label: dict = {}
            for type_, start, end in spans:
                label.setdefault(type_, {}).setdefault(text[start:end], []).append([start, end - 1])  # end inclusive
            yield json.dumps({"text": text, "label": label}, ensure_ascii=False)

    return gen


# ---------------------------------------------------------------- FewFC, CMeEE, CMeIE, CHIP-CDEE


def json_array_lines(records: Iterator[dict]) -> Iterator[str]:
    """The lines of one pretty-printed JSON array (CBLUE's layout: 2-space indent, no final newline)."""
    yield "["
    previous = None
    for record in records:
        if previous is not None:
            yield from previous[:-1]
            yield previous[-1] + ","
        previous = ["  " + line for line in json.dumps(record, ensure_ascii=False, indent=2).split("\n")]
    if previous is not None:
        yield from previous
    yield "]"


def gen_fewfc(roles: dict) -> Callable:
    """FewFC lines: 1-2 events (often sharing one trigger), the trigger among the mentions, [start, end) spans."""

    def gen(s: Synth, n: int, labelled: bool) -> Iterator[str]:
        for _ in range(n):
            text, events = s.filler(4, 16), []
            if s.rng.random() < 0.95:
                event_type = s.rng.choice(list(roles))
                trigger = (len(text), s.word(2, 2))
                text += trigger[1] + s.filler()
                for _ in range(s.rng.choice((1, 1, 2))):  # a second event on the same trigger
                    mentions = [{"word": trigger[1], "span": [trigger[0], trigger[0] + 2], "role": "trigger"}]
                    for role in s.rng.sample(roles[event_type], s.rng.randint(1, min(4, len(roles[event_type])))):
                        word = s.word(2, 8)
                        mentions.append({"word": word, "span": [len(text), len(text) + len(word)], "role": role})
                        text += word + s.filler()
                    s.rng.shuffle(mentions)  # the trigger is not always first
                    events.append({"type": event_type, "mentions": mentions})
            yield json.dumps({"id": s.hex_id(), "content": text, "events": events}, ensure_ascii=False)

    return gen


def gen_cmeee(types: list) -> Callable:
    def records(s: Synth, n: int, labelled: bool) -> Iterator[dict]:
        for _ in range(n):
            text, spans = ner_sentence(s, types, 30, 120)
            if not labelled:
                yield {"text": text}
                continue
            entities = [{"start_idx": a, "end_idx": b - 1, "type": t, "entity": text[a:b]} for t, a, b in spans]
            for t, a, b in spans[:1]:  # a nested one-character entity, end_idx == start_idx
                entities.append({"start_idx": a, "end_idx": a, "type": s.rng.choice(types), "entity": text[a]})
            yield {"text": text, "entities": entities}

    return lambda s, n, labelled: json_array_lines(records(s, n, labelled))


CMEIE_PREDICATES = [("临床表现", "症状"), ("药物治疗", "药物"), ("实验室检查", "检查"), ("影像学检查", "检查"), ("同义词", "疾病")]


def gen_cmeie_schema(s: Synth, n: int, labelled: bool) -> Iterator[str]:
    for predicate, object_type in CMEIE_PREDICATES:
        yield json.dumps({"subject_type": "疾病", "predicate": predicate, "object_type": object_type}, ensure_ascii=False)


def gen_cmeie(s: Synth, n: int, labelled: bool) -> Iterator[str]:
    """CMeIE lines: a topic prefix ``<disease>@`` holding the subject of Combined triples."""
    for _ in range(n):
        topic = s.word(2, 5)
        text, spo_list = f"{topic}@{s.filler(2, 10)}", []
        for _ in range(s.rng.choice((1, 2, 3))):
            predicate, object_type = s.rng.choice(CMEIE_PREDICATES)
            obj = s.word(2, 6)
            text += obj + s.filler()
            spo_list.append({"Combined": True, "predicate": predicate, "subject": topic, "subject_type": "疾病",
                             "object": {"@value": obj}, "object_type": {"@value": object_type}})
        yield json.dumps({"text": text, "spo_list": spo_list} if labelled else {"text": text}, ensure_ascii=False)


def gen_chip_cdee(s: Synth, n: int, labelled: bool) -> Iterator[str]:
    """CHIP-CDEE records: findings with normalised values (about one core_name in nine not in the text)."""

    def records() -> Iterator[dict]:
        for i in range(n):
            text, events = s.filler(4, 12), []
            for _ in range(s.rng.randint(1, 8) if labelled else 0):
                core = s.word(2, 4)
                if s.rng.random() > 1 / 9:
                    text += core
                character = [s.word(1, 2) for _ in range(s.rng.choice((0, 0, 1)))]
                anatomy = [s.word(2, 4) for _ in range(s.rng.choice((0, 1)))]
                text += "".join(character + anatomy) + s.filler()
                events.append({"core_name": core, "tendency": s.rng.choice(("", "", "否定", "不确定")), "character": character, "anatomy_list": anatomy})
            yield {"id": i, "text": text, "event": events}

    return json_array_lines(records())


# ---------------------------------------------------------------- which generator for which file


@dataclass(frozen=True)
class FileFormat:
    """How one source file is written: its line generator, line ending, whether the file ends with one,
    and the SIZES key counting its records when that is not the split (BosonNLP's one file of documents)."""

    gen: Callable
    newline: str = "\n"
    final_newline: bool = True
    count_key: Optional[str] = None


def labels_of(cls, default: list) -> list:
    """The builder's own label names when its Corpus lists them, else the default."""
    return list(cls.corpus.labels) or default


def relations_of(cls, default: list) -> list:
    """Relation labels, with the catch-all ``unknown`` first as in relation2id.txt."""
    return ["unknown"] + [label for label in labels_of(cls, default) if label != "unknown"]


def file_format(name: str, cls, file_name: str) -> Optional[FileFormat]:
    """The format of ``file_name`` for corpus ``name``, or None when this script cannot write it."""
    low = file_name.lower()
    types = labels_of(cls, DEFAULT_NER_TYPES.get(name, ["PER", "LOC", "ORG"]))
    if name == "duie":
        return FileFormat(gen_duie_schema if low == "duie_schema.json" else gen_duie)
    if name == "duee":
        return FileFormat(gen_duee_schema if "schema" in low else gen_duee)
    if name == "duee_fin":
        return FileFormat(gen_duee_fin_schema if "schema" in low else gen_duee_fin, final_newline="schema" not in low)
    if name == "sanwen":
        relations = relations_of(cls, SANWEN_RELATIONS)
        if low == "relation2id.txt":
            return FileFormat(gen_relation2id(relations, "\t"), "\r\n")
        return FileFormat(gen_sanwen(relations), "\r\n")
    if name == "finre":
        relations = relations_of(cls, [Synth(42).word(2, 2) + str(i) for i in range(42)])
        if low == "relation2id.txt":
            return FileFormat(gen_relation2id(relations, " "), "\r\n", final_newline=False)
        return FileFormat(gen_finre(relations))
    if low.endswith(".bmes"):
        return FileFormat(gen_char_tagged(types, "BMES", " "), "\r\n" if name == "boson_ner" else "\n")
    if name == "boson_ner" and low.endswith(".txt") and ("6c" in low or "origindata" in low):
        return FileFormat(gen_boson_inline(types), final_newline=False, count_key="documents")
    if low.endswith("_bio.txt"):
        return FileFormat(gen_char_tagged(types, "BIO", "\t"))
    if name == "msra_ner" and low in ("train1.txt", "testright1.txt", "test1.txt"):
        return FileFormat(gen_msra_words(types, labelled=low != "test1.txt"))
    if "weibo" in low:
        return FileFormat(gen_char_tagged(types, "BIO", "\t", weibo=True))
    if low.startswith("example.") or name == "peoples_daily_ner":
        return FileFormat(gen_char_tagged(types, "BIO", " "))
    if name == "cluener" and low.endswith(".json"):
        return FileFormat(gen_cluener(types))
    if name == "fewfc":
        roles = {event_type: list(codes) for event_type, codes in FEWFC_ROLE_NAMES.items()}
        return FileFormat(gen_fewfc(roles), "\r\n" if "_base" in low else "\n", count_key=low.rsplit(".", 1)[0])
    if name == "cmeee":
        return FileFormat(gen_cmeee(types), final_newline=False)
    if name == "cmeie":
        return FileFormat(gen_cmeie_schema if low == "53_schemas.json" else gen_cmeie, "\n" if low == "53_schemas.json" else "\r\n")
    if name == "chip_cdee":
        return FileFormat(gen_chip_cdee, final_newline=False)
    return None


def split_size(name: str, split: str) -> int:
    sizes = SIZES[name]
    key = {"dev": "validation", "valid": "validation"}.get(split, split)
    if key not in sizes and key.startswith("test"):
        key = "test"
    return sizes.get(key, sizes.get("train", 1000) // 10)


def write_lines(path: Path, lines: Iterator[str], newline: str, final_newline: bool) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        first = True
        for line in lines:
            if not first:
                f.write(newline)
            f.write(line)
            first = False
        if final_newline and not first:
            f.write(newline)


def generate_corpus(name: str, cls, folder: Path, scale: float, seed: int = 0) -> dict:
    """Write every file of ``name`` into ``folder``; return ``{file name: records}``.

    Raises ``LookupError`` naming a file this script has no generator for.
    """
    corpus = cls.corpus
    plan = {}  # file name -> (format, count, labelled); the first candidate name of each split, every part of a joined one
    for split, candidates in corpus.files.items():
        for file_name in candidates if split in corpus.joined_splits else candidates[:1]:  # every part of a joined split
            fmt = file_format(name, cls, file_name)
            if fmt is None:
                raise LookupError(f"no generator for {name}/{file_name}")
            count = SIZES[name][fmt.count_key] if fmt.count_key else split_size(name, split)
            plan.setdefault(file_name, (fmt, max(1, round(count * scale)), split not in corpus.unlabelled_splits))
    if corpus.schema_file:
        fmt = file_format(name, cls, corpus.schema_file)
        if fmt is None:
            raise LookupError(f"no generator for {name}/{corpus.schema_file}")
        plan[corpus.schema_file] = (fmt, 0, True)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (file_name, (fmt, count, labelled)) in enumerate(sorted(plan.items())):
        write_lines(folder / file_name, fmt.gen(Synth(seed * 1000 + i), count, labelled), fmt.newline, fmt.final_newline)
    return {file_name: count for file_name, (_, count, _) in sorted(plan.items()) if count}
