"""Complaint catalogue: structured chief complaints (codes, Chinese and English names) and the
matching of free text to them.

The catalogue is data (``complaints.yaml``). Each complaint has a usual triage level (the KTAS
second-order default when nothing else is abnormal), the kind of pain it causes (central: from a
body cavity or organ, scored more urgently; peripheral: skin, soft tissue, limbs), the outpatient
department that sees it when it is not urgent, and phrases in both languages.

Matching is deliberately simple and explainable: the text is lower-cased, clinical abbreviations
are expanded (``abd`` → abdominal, ``HA`` → headache, ``F/C`` → fever chills), English words are
compared after dropping a plural ``s``, a misspelt long word (one letter off) still matches, and a
phrase matches when all its words occur in the text in any order (so "pain, chest" matches "chest
pain"). Chinese phrases match as substrings. When one complaint's phrase is contained in another
matched complaint's longer phrase ("weakness" in "motor weakness"), only the more specific
complaint is kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from triage_kiosk.triage.errors import RulesError

PAIN_SITES = ("central", "peripheral")
#: Values of a complaint's ``pain`` field: a site, or "unspecified" when the complaint does not say
#: where the pain is (a fall): the other complaints decide, and central is assumed if none does.
COMPLAINT_PAIN = (*PAIN_SITES, "unspecified")
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_TOKEN_SPLIT_RE = re.compile(r"[^a-z0-9/]+")


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Complaint:
    code: str
    en: str
    zh: str
    #: Usual KTAS level for this complaint when no other finding is more urgent.
    level: int
    #: "central", "peripheral" or "unspecified": which pain table applies to a pain score.
    pain: str
    department: str
    #: Alert a nurse at once whenever this complaint is chosen.
    escalate: bool = False
    group: str = ""
    #: Why the usual level is what it is (shown to staff).
    why_en: str = ""
    why_zh: str = ""
    phrases_en: tuple[str, ...] = ()
    phrases_zh: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """A complaint recognised in free text, and the phrase that recognised it."""

    complaint: Complaint
    phrase: str


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _within_one_edit(a: str, b: str) -> bool:
    """True if ``a`` and ``b`` differ by at most one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if la > lb:
        a, b = b, a
    # b is one longer than a: b with one letter removed must equal a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


class ComplaintCatalog:
    """The complaint list of one catalogue file, with lookup by code and free-text matching."""

    def __init__(
        self,
        complaints: Iterable[Complaint],
        departments: Iterable[Department],
        abbreviations: Mapping[str, str],
        *,
        version: str,
        fallback: str,
        source: str = "complaints",
    ) -> None:
        self.version = version
        self.source = source
        self.complaints: dict[str, Complaint] = {c.code: c for c in complaints}
        self.departments: dict[str, Department] = {d.code: d for d in departments}
        self.abbreviations: dict[str, tuple[str, ...]] = {}
        for short, long in abbreviations.items():
            self.abbreviations[short.lower()] = tuple(_stem(w) for w in _TOKEN_SPLIT_RE.split(long.lower()) if w)
        if fallback not in self.complaints:
            raise RulesError(f"{source}: fallback: complaint {fallback!r} is not in the catalogue")
        self.fallback = self.complaints[fallback]
        self._phrases: list[tuple[frozenset[str], str, Complaint]] = []
        self._phrases_zh: list[tuple[str, Complaint]] = []
        vocabulary: set[str] = set()
        for c in self.complaints.values():
            for phrase in (c.en, *c.phrases_en):
                tokens = frozenset(self._tokens(phrase, fuzzy=False))
                if tokens:
                    self._phrases.append((tokens, phrase, c))
                    vocabulary |= tokens
            for phrase in (c.zh, *c.phrases_zh):
                self._phrases_zh.append((_compact(phrase), c))
        self._vocabulary = frozenset(w for w in vocabulary if len(w) >= 6)

    def get(self, code: str) -> Complaint:
        try:
            return self.complaints[code]
        except KeyError:
            raise ValueError(f"complaints: unknown complaint code {code!r}") from None

    def department(self, code: str) -> Department:
        return self.departments[code]

    def _tokens(self, text: str, *, fuzzy: bool) -> list[str]:
        text = unicodedata.normalize("NFKC", text).lower()
        out: list[str] = []
        for raw in _TOKEN_SPLIT_RE.split(text):
            if not raw:
                continue
            parts = [raw] if raw in self.abbreviations else [p for p in raw.split("/") if p]
            for part in parts:
                if part in self.abbreviations:
                    out.extend(self.abbreviations[part])
                    continue
                word = _stem(part)
                if fuzzy and len(word) >= 6 and word not in self._vocabulary:
                    near = sorted(v for v in self._vocabulary if _within_one_edit(word, v))
                    if len(near) == 1:
                        word = near[0]
                out.append(word)
        return out

    def match(self, text: str) -> list[Match]:
        """Complaints recognised in ``text``, most specific only, in catalogue order."""
        if not text or not text.strip():
            return []
        tokens = set(self._tokens(text, fuzzy=True))
        compact = _compact(text)
        # every phrase that matched, per complaint: (words, the phrase as written)
        hits: dict[str, list[tuple[frozenset[str], str]]] = {}
        for phrase_tokens, phrase, c in self._phrases:
            if phrase_tokens <= tokens:
                hits.setdefault(c.code, []).append((phrase_tokens, phrase))
        if _CJK_RE.search(compact):
            for zh, c in self._phrases_zh:
                if zh and zh in compact:
                    hits.setdefault(c.code, []).append((frozenset(), zh))
        kept: list[Match] = []
        for code, mine in hits.items():
            others = [h for other, hs in hits.items() if other != code for h in hs]
            # drop a complaint when each of its phrases is part of a longer phrase of another one
            # ("weakness" inside "motor weakness", "出血" inside "阴道出血")
            if all(any(_contains(big, small) for big in others) for small in mine):
                continue
            best = max(mine, key=lambda h: (len(h[0]), len(h[1])))
            kept.append(Match(self.complaints[code], best[1]))
        order = {code: i for i, code in enumerate(self.complaints)}
        kept.sort(key=lambda m: order[m.complaint.code])
        return kept


def _contains(big: tuple[frozenset[str], str], small: tuple[frozenset[str], str]) -> bool:
    """True if phrase ``small`` is a strict part of phrase ``big`` (English words or Chinese text)."""
    (big_words, big_text), (small_words, small_text) = big, small
    if small_words or big_words:
        return bool(small_words) and small_words < big_words
    return small_text in big_text and small_text != big_text


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower())


def _is_zh(text: str) -> bool:
    return bool(_CJK_RE.search(text))


# ----------------------------------------------------------------------------------- loading


def _need(entry: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in entry:
        raise RulesError(f"{where}: {key}: missing")
    value = entry[key]
    if isinstance(value, bool) and kind is not bool:
        raise RulesError(f"{where}: {key}: expected {_kind_name(kind)}, got {value!r}")
    if not isinstance(value, kind):
        raise RulesError(f"{where}: {key}: expected {_kind_name(kind)}, got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise RulesError(f"{where}: {key}: must not be empty")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return {"str": "text", "int": "a whole number", "bool": "true or false", "list": "a list"}.get(
        kind.__name__, kind.__name__
    )


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesError(f"{where}: expected a list of non-empty texts, got {value!r}")
    return tuple(value)


_COMPLAINT_KEYS = {
    "code",
    "en",
    "zh",
    "level",
    "pain",
    "department",
    "escalate",
    "group",
    "why_en",
    "why_zh",
    "match_en",
    "match_zh",
}


def parse_catalog(data: Any, source: str = "complaints") -> ComplaintCatalog:
    """Build a catalogue from parsed YAML, raising ``RulesError`` that names entry and field."""
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping at the top level")
    unknown = set(data) - {"version", "fallback", "departments", "abbreviations", "complaints"}
    if unknown:
        raise RulesError(f"{source}: unknown top-level field(s): {', '.join(sorted(unknown))}")
    version = str(_need(data, "version", source, (str, int, float)))
    fallback = _need(data, "fallback", source, str)
    departments: list[Department] = []
    for i, entry in enumerate(_need(data, "departments", source, list)):
        where = f"{source}: departments[{i}]"
        if not isinstance(entry, dict):
            raise RulesError(f"{where}: expected a mapping")
        unknown = set(entry) - {"code", "en", "zh"}
        if unknown:
            raise RulesError(f"{where}: unknown field(s): {', '.join(sorted(unknown))}")
        code = _need(entry, "code", where, str)
        where = f"{source}: department {code!r}"
        departments.append(Department(code, _need(entry, "en", where, str), _need(entry, "zh", where, str)))
    dept_codes = [d.code for d in departments]
    if len(set(dept_codes)) != len(dept_codes):
        dup = sorted({c for c in dept_codes if dept_codes.count(c) > 1})
        raise RulesError(f"{source}: departments: duplicate code(s) {', '.join(dup)}")
    abbreviations = data.get("abbreviations") or {}
    if not isinstance(abbreviations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in abbreviations.items()
    ):
        raise RulesError(f"{source}: abbreviations: expected a mapping of short form to words")
    complaints: list[Complaint] = []
    seen: set[str] = set()
    for i, entry in enumerate(_need(data, "complaints", source, list)):
        where = f"{source}: complaints[{i}]"
        if not isinstance(entry, dict):
            raise RulesError(f"{where}: expected a mapping")
        code = _need(entry, "code", where, str)
        where = f"{source}: complaint {code!r}"
        if not _CODE_RE.match(code):
            raise RulesError(f"{where}: code: use lower-case letters, digits and _ only")
        if code in seen:
            raise RulesError(f"{where}: code: duplicate")
        seen.add(code)
        unknown = set(entry) - _COMPLAINT_KEYS
        if unknown:
            raise RulesError(f"{where}: unknown field(s): {', '.join(sorted(unknown))}")
        level = _need(entry, "level", where, int)
        if not 1 <= level <= 5:
            raise RulesError(f"{where}: level: must be 1..5, got {level}")
        pain = entry.get("pain", "central")
        if pain not in COMPLAINT_PAIN:
            raise RulesError(f"{where}: pain: must be one of {', '.join(COMPLAINT_PAIN)}, got {pain!r}")
        department = _need(entry, "department", where, str)
        if department not in dept_codes:
            raise RulesError(f"{where}: department: {department!r} is not a listed department")
        escalate = entry.get("escalate", False)
        if not isinstance(escalate, bool):
            raise RulesError(f"{where}: escalate: expected true or false, got {escalate!r}")
        for key in ("group", "why_en", "why_zh"):
            if key in entry and not isinstance(entry[key], str):
                raise RulesError(f"{where}: {key}: expected text")
        complaints.append(
            Complaint(
                code=code,
                en=_need(entry, "en", where, str),
                zh=_need(entry, "zh", where, str),
                level=level,
                pain=pain,
                department=department,
                escalate=escalate,
                group=entry.get("group", ""),
                why_en=entry.get("why_en", ""),
                why_zh=entry.get("why_zh", ""),
                phrases_en=_strings(entry.get("match_en"), f"{where}: match_en"),
                phrases_zh=_strings(entry.get("match_zh"), f"{where}: match_zh"),
            )
        )
    if not complaints:
        raise RulesError(f"{source}: complaints: the list is empty")
    return ComplaintCatalog(complaints, departments, abbreviations, version=version, fallback=fallback, source=source)


def load_catalog(path: Path) -> ComplaintCatalog:
    """Read and check a complaint catalogue file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the complaint catalogue ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from None
    return parse_catalog(data, source=path.name)
