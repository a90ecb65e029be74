"""The catalog as words: which products, option names and option values a piece of text mentions.

Built from the shop's own catalog (names, options, values) plus one data file of aliases per language
(bot/data/nlu/lexicon_en.yaml). Matching is case-insensitive, takes plurals, short names ("the kettle") and
near-misses (rapidfuzz, for words of five letters or more). It finds mentions; it does not decide what the
customer wants. Build one with `Lexicon.from_store(store)`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml
from rapidfuzz import fuzz, process

TOKEN = re.compile(r"\d+(?:\.\d+)?\s?(?:gb|tb|ml|mah|mm|mp|ft|l|w|x|k|%|-inch|-piece| inch| inches| lbs| bar"
                   r"| hours| cups?| liters?| degrees)?(?!\w)|[a-z][a-z0-9'+\-]*|[\u4e00-\u9fff]", re.I)
FUZZY_MIN_LEN = 5  # shorter words are too easily confused ("mat" / "map") to match approximately
FUZZY_SCORE = 80
SWAP_MIN_LEN = 4  # a swap of two neighbouring letters is matched down to this length ("lmap" -> "lamp")


@dataclass(frozen=True)
class Mention:
    kind: str  # product | value | option
    start: int  # token span [start, end)
    end: int
    text: str  # the customer's words
    product_ids: tuple[str, ...] = ()  # product: the products named; value: the products having that value
    option: str = ""  # value / option: the catalog's option name
    value: str = ""  # value: the catalog's spelling


def tokens(text: str) -> list[str]:
    t = text.lower().replace("’", "'").replace("‘", "'")
    # numbers keep their unit in one token, spaces and hyphens dropped: "13 inch", "13-inch" -> "13inch"
    return [re.sub(r"[ \-]", "", m.group(0)) if m.group(0)[0].isdigit() else m.group(0) for m in TOKEN.finditer(t)]


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and re.search(r"(ch|sh|x|ss)es$", word):
        return word[:-2]
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _swapped_or_short(word: str, right: str) -> bool:
    """`word` is `right` with two neighbouring letters swapped (3+ letters) or one letter left out."""
    if len(word) == len(right) and len(word) >= 3:
        diff = [i for i, (a, b) in enumerate(zip(word, right)) if a != b]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == right[diff[1]] and \
            word[diff[1]] == right[diff[0]]
    if len(word) + 1 == len(right):
        return any(right[:i] + right[i + 1:] == word for i in range(len(right)))
    return False


def _norm_phrase(text: str) -> tuple[str, ...]:
    return tuple(_singular(t) for t in tokens(text))


@lru_cache(maxsize=4)
def language_data(language: str = "en") -> dict:
    raw = (resources.files("bot") / "data" / "nlu" / f"lexicon_{language}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(raw)


class Lexicon:
    """Phrases (as singular token tuples) -> what they name in the catalog."""

    def __init__(self, variants: list[dict], language: str = "en"):
        self.data = language_data(language)
        self.names: dict[str, str] = {}  # product_id -> catalog name
        self.option_values: dict[str, dict[str, set[str]]] = {}  # product_id -> option -> values
        for v in variants:
            self.names[v["product_id"]] = v["name"]
            opts = self.option_values.setdefault(v["product_id"], {})
            for k, val in v["options"].items():
                opts.setdefault(k, set()).add(val)
        self.products: dict[tuple, set[str]] = {}
        self.weak: set[tuple] = set()  # head nouns standing for a longer name
        self.filler = {_singular(w) for w in self.data.get("filler", [])}
        self._filler_by_len: dict[int, list[str]] = {}
        for w in set(self.data.get("filler", [])):
            self._filler_by_len.setdefault(len(w), []).append(w)
        by_name = {n.lower(): p for p, n in self.names.items()}
        for pid, name in self.names.items():
            self._add(self.products, name, pid)
            words = _norm_phrase(name)
            if len(words) > 1:  # the head noun alone: "kettle", "bottle", unless another product is just that
                self._add(self.products, words[-1], pid, weak=True)
                self.weak.add((words[-1],))
        for name, aliases in self.data.get("product_aliases", {}).items():
            pid = by_name.get(name.lower())
            for alias in aliases if pid else ():
                self._add(self.products, alias, pid)
                self.weak.discard(_norm_phrase(alias))  # a listed alias names the product wherever it stands
        self.values: dict[tuple, set[tuple[str, str, str]]] = {}  # phrase -> {(product_id, option, value)}
        value_aliases = {k.lower(): v for k, v in self.data.get("value_aliases", {}).items()}
        for pid, opts in self.option_values.items():
            for option, values in opts.items():
                for value in values:
                    for spelling in [value] + value_aliases.get(value.lower(), []):
                        key = _norm_phrase(spelling)
                        if key:
                            self.values.setdefault(key, set()).add((pid, option, value))
        self.option_names: dict[tuple, set[str]] = {}
        all_options = {o for opts in self.option_values.values() for o in opts}
        for option in all_options:
            self.option_names.setdefault(_norm_phrase(option), set()).add(option)
        for option, words in self.data.get("option_names", {}).items():
            for w in words:
                self.option_names.setdefault(_norm_phrase(w), set()).add(option)
        self._fuzzy_words = sorted({p[0] for p in self.products if len(p) == 1 and len(p[0]) >= FUZZY_MIN_LEN}
                                   | {w for p in self.products for w in p if len(w) >= FUZZY_MIN_LEN})
        self._swap_words = sorted({w for p in self.products for w in p if len(w) >= SWAP_MIN_LEN})
        self.common = {_singular(w) for w in self.data.get("common_words", [])} | self.filler
        self.max_len = max(len(k) for k in list(self.products) + list(self.values) + list(self.option_names))
        self._catalog_words = {w for k in list(self.products) + list(self.values) + list(self.option_names) for w in k}

    def _add(self, table, phrase, pid, weak=False):
        key = _norm_phrase(phrase)
        if not key:
            return
        if weak and key in table:
            return  # a head noun never overrides a full name
        table.setdefault(key, set()).add(pid)

    @classmethod
    def from_store(cls, store, language: str = "en") -> "Lexicon":
        return cls(store.variants(), language)

    # ---------------------------------------------------------------- matching
    def fix_typos(self, toks: list[str]) -> list[str]:
        """Words close to a catalog word ("keybaord" -> "keyboard"); short words and known words are kept."""
        known = self._catalog_words
        out = []
        for t in toks:
            s = _singular(t)
            if len(t) < SWAP_MIN_LEN or s in known or t in known or not t.isalpha() or s in self.common or \
                    t in self.common:
                out.append(t)
                continue
            hit = None
            if len(t) >= FUZZY_MIN_LEN:
                words = [w for w in self._fuzzy_words if w[0] == s[0]]  # typos rarely hit the first letter
                hit = process.extractOne(s, words, scorer=fuzz.ratio, score_cutoff=FUZZY_SCORE)
            if hit:
                out.append(hit[0])
                continue
            # two neighbouring letters swapped, the first two as well ("lmap", "amker"): a slip of the fingers
            out.append(next((w for w in self._swap_words if len(w) == len(s) and _swapped_or_short(s, w)), t))
        return out

    def mentions(self, text: str) -> list[Mention]:
        """Products, option values and option names in the text, longest phrase first, not overlapping."""
        raw = tokens(text)
        fixed = self.fix_typos(raw)
        toks = [_singular(t) for t in fixed]
        guessed = [a != b for a, b in zip(raw, fixed)]  # words read as a near-miss of a catalog word
        taken = [False] * len(toks)
        found: list[Mention] = []
        for size in range(min(self.max_len, len(toks)), 0, -1):
            for i in range(len(toks) - size + 1):
                if any(taken[i:i + size]):
                    continue
                key = tuple(toks[i:i + size])
                words = " ".join(raw[i:i + size])
                hit = None
                if key in self.values and self._beside_option_name(key, toks, i, i + size):
                    # "compartment: camera" is the backpack's compartment, not the Digital Camera
                    hit = [Mention("value", i, i + size, words, (pid,), opt, val)
                           for pid, opt, val in sorted(self.values[key])]
                elif key in self.products and not self._modified_head(key, toks, i) and \
                        not (key in self.weak and any(guessed[i:i + size])):
                    # a head noun standing alone must be spelled right: "to be clear" is no Vacuum Cleaner
                    hit = [Mention("product", i, i + size, words, tuple(sorted(self.products[key])))]
                elif key in self.values:
                    hit = [Mention("value", i, i + size, words, (pid,), opt, val)
                           for pid, opt, val in sorted(self.values[key])]
                    # "battery" is a lamp's power source and the earbuds' battery life: both, the product decides
                    hit += [Mention("option", i, i + size, words, option=o) for o in sorted(self.option_names.get(key, ()))]
                elif key in self.option_names:
                    hit = [Mention("option", i, i + size, words, option=o) for o in sorted(self.option_names[key])]
                if hit:
                    found += hit
                    for j in range(i, i + size):
                        taken[j] = True
        return sorted(found, key=lambda m: (m.start, m.kind, m.product_ids, m.option))

    def normalise(self, text: str) -> str:
        """The text with slips in filler words put right ("nvm taht one" -> "nvm that one"), for the clause
        classifier: catalog words, identifiers and words it knows are left as typed."""
        def fix(m):
            word = m.group(0)
            low = word.lower()
            if low in self.common or low in self._catalog_words or _singular(low) in self.common or \
                    _singular(low) in self._catalog_words or low in self.filler or len(low) < 3:
                return word
            return self._slip_of(low) or word
        pieces = re.split(r"(\S+@\S+)", text)  # an email stays as typed
        return "".join(p if "@" in p else re.sub(r"(?<![\w#])[A-Za-z']+(?!\w)", fix, p) for p in pieces)

    def is_filler(self, word: str) -> bool:
        """A word that says nothing about a product, typed right or with two letters swapped ("yuo", "teh") or
        one letter left out ("ordr", "pleas"); the short ones must be spelled right ("hat" is not "what")."""
        return word in self.filler or _singular(word) in self.filler or self._slip_of(word) is not None

    def _slip_of(self, word: str) -> str | None:
        """The filler word `word` is a slip of: two letters swapped, or (from four letters) one left out."""
        same = next((f for f in self._filler_by_len.get(len(word), ()) if _swapped_or_short(word, f)), None)
        if same or len(word) < 4:
            return same
        return next((f for f in self._filler_by_len.get(len(word) + 1, ()) if _swapped_or_short(word, f)), None)

    def _beside_option_name(self, key, toks, start, end) -> bool:
        """The words just before or just after name an option this value belongs to ("compartment camera",
        "type: robotic", "a laptop compartment": the backpack's compartment, not the Laptop)."""
        options = {opt for _, opt, _ in self.values[key]}
        before = [tuple(toks[start - n:start]) for n in range(1, min(3, start) + 1)]
        after = [tuple(toks[end:end + n]) for n in range(1, min(3, len(toks) - end) + 1)]
        return any(self.option_names.get(words, set()) & options for words in before + after)

    def _modified_head(self, key, toks, i) -> bool:
        """A bare head noun after a word the catalog doesn't know names something else: "washing machine"."""
        if key not in self.weak:
            return False
        if key[0] in self.common:
            return True  # "set me back" is not a Dumbbell Set
        if i == 0:
            return False
        before = toks[i - 1]
        known = self.is_filler(before) or any(before in k for k in self.values) or before.isdigit()
        return not known

    def products_in(self, text: str) -> list[str]:
        out: list[str] = []
        for m in self.mentions(text):
            if m.kind == "product":
                out += [p for p in m.product_ids if p not in out]
        return out

    def values_for(self, mentions: list[Mention], product_ids: list[str] | None) -> dict[str, str]:
        """{option: value} named, restricted to these products (any product when None)."""
        out: dict[str, str] = {}
        for m in mentions:
            if m.kind != "value" or (product_ids and m.product_ids[0] not in product_ids):
                continue
            out.setdefault(m.option, m.value)
        return out

    def flags(self, mentions: list[Mention], product_id: str, toks: list[str]) -> dict[str, str]:
        """Yes/no options named on their own as a wish ("the waterproof one", "20 hours water resistance"): yes,
        or no after a negation ("no water resistance"); an option followed by its value is left to `values_for`."""
        out: dict[str, str] = {}
        valued = {(m.start, m.option) for m in mentions if m.kind == "value"}
        negations = set(self.data.get("negations", []))
        for m in mentions:
            values = {v.lower(): v for v in self.option_values.get(product_id, {}).get(m.option, ())}
            if m.kind != "option" or not values or set(values) - {"yes", "no"} or (m.end, m.option) in valued:
                continue
            said = "no" if m.start and toks[m.start - 1] in negations else "yes"
            if said in values:
                out.setdefault(m.option, values[said])
        return out

    def option_asked(self, mentions: list[Mention], product_ids: list[str]) -> str:
        """The catalog option a question names ("what colours ..." -> "color") among these products' options."""
        have = {o for p in product_ids for o in self.option_values.get(p, {})} if product_ids else None
        for m in mentions:
            if m.kind == "option" and (have is None or m.option in have):
                return m.option
        return ""
