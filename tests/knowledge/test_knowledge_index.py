import json
import time

import pytest

from knowledge.documents import Document, variant_document
from knowledge.embeddings import HashEmbedder
from knowledge.errors import IndexCorrupt, IndexMismatch, KnowledgeError
from knowledge.hybrid import matches, reciprocal_rank_fusion, tokenize, weighted_fusion
from knowledge.index import SearchIndex

DOCS = [
    Document("a", "Red running shoes, size 9", {"kind": "product", "price": 120.0, "available": True, "color": "red"}),
    Document("b", "Blue running shoes, size 10", {"kind": "product", "price": 95.5, "available": False, "color": "blue"}),
    Document("c", "Green water bottle, 1000ml glass", {"kind": "product", "price": 20.0, "available": True, "color": "green"}),
    Document("d", "Refunds go back to the original payment method in 5 to 7 business days", {"kind": "faq"}),
    Document("e", "Orders can be cancelled only while they are pending", {"kind": "policy"}),
]


@pytest.fixture
def index(embedder):
    return SearchIndex.build(DOCS, embedder=embedder)


def ids(hits):
    return [h.id for h in hits]


def test_search_returns_hits_best_first_with_fields(index):
    hits = index.search("glass water bottle", top_k=3)
    assert hits[0].id == "c"
    assert hits[0].text == DOCS[2].text and hits[0].metadata == DOCS[2].metadata
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(index.search("shoes", top_k=1)) == 1
    for mode in ("dense", "bm25"):
        assert index.search("glass water bottle", top_k=1, mode=mode)[0].id == "c"


def test_filters_equality_any_of_range_and_missing_key(index):
    assert set(ids(index.search("shoes", filters={"available": True}))) <= {"a", "c"}
    assert "b" not in ids(index.search("running shoes", filters={"available": True}))
    assert set(ids(index.search("shoes", filters={"color": ["red", "blue"]}))) == {"a", "b"}
    assert set(ids(index.search("shoes bottle", filters={"price": (50, 100)}))) == {"b"}
    assert set(ids(index.search("shoes bottle", filters={"price": (None, 100)}))) == {"b", "c"}
    assert set(ids(index.search("refund", filters={"kind": "faq"}))) == {"d"}
    nothing = index.search("shoes", filters={"color": "purple"})
    assert nothing == [] and "filter" in nothing.reason
    assert matches({"price": 5}, {"price": (1, 10)}) and not matches({}, {"price": (1, 10)})
    with pytest.raises(ValueError):
        matches({"price": 5}, {"price": (1, 2, 3)})


def test_empty_whitespace_and_huge_queries(index):
    for query in ("", "   \n\t"):
        result = index.search(query)
        assert result == [] and "empty" in result.reason
    huge = "water bottle " * 200_000  # 2.6 MB
    start = time.perf_counter()
    result = index.search(huge)
    assert time.perf_counter() - start < 2
    assert result.truncated and result[0].id == "c"
    assert not index.search("water bottle").truncated
    with pytest.raises(TypeError):
        index.search(None)


def test_save_load_round_trip_gives_the_same_results(index, tmp_path):
    index.save(tmp_path / "ix")
    again = SearchIndex.load(tmp_path / "ix", embedder=HashEmbedder())
    assert again.documents() == index.documents()
    for query in ("red shoes", "refund payment", "pending order cancel", "bottle"):
        for mode in ("hybrid", "dense", "bm25"):
            first, second = index.search(query, mode=mode), again.search(query, mode=mode)
            assert ids(first) == ids(second)
            assert [h.score for h in first] == pytest.approx([h.score for h in second])


def test_update_reembeds_only_changed_and_new_documents(demo_db, embedder, tmp_path):
    from knowledge.store import Store
    store = Store(demo_db)
    variants = store.variants()
    store.close()
    docs = [variant_document(v) for v in variants]
    index = SearchIndex.build(docs, path=tmp_path / "ix", embedder=embedder)
    assert len(embedder.seen) == len(docs)

    bottle = next(v for v in variants if v["name"] == "Water Bottle" and v["options"]["material"] == "glass")
    gone = next(v for v in variants if v["name"] == "Tablet")
    cheaper = {**bottle, "price": 12.34}
    new = {"item_id": "1111111111", "product_id": "8310926033", "name": "Water Bottle", "price": 39.99,
           "available": True, "options": {"capacity": "2000ml", "material": "titanium", "color": "orange"}}
    changed = [variant_document(cheaper if v is bottle else v) for v in variants if v is not gone]
    changed.append(variant_document(new))
    embedder.seen.clear()
    report = index.update(changed)
    assert report.changed == (f"item:{bottle['item_id']}",)
    assert report.removed == (f"item:{gone['item_id']}",) and report.added == ("item:1111111111",)
    assert sorted(embedder.seen) == sorted([variant_document(cheaper).text, variant_document(new).text])
    assert len(index) == len(docs)

    assert f"item:{gone['item_id']}" not in ids(index.search(f"tablet {gone['options']['color']}", top_k=50))
    assert index.search("titanium water bottle 2000ml", top_k=1)[0].id == "item:1111111111"
    hit = index.search("glass water bottle", top_k=1, filters={"item_id": bottle["item_id"]})[0]
    assert hit.metadata["price"] == 12.34 and "$12.34" in hit.text
    assert index.search("bottle", filters={"price": (12, 13)})[0].id == f"item:{bottle['item_id']}"
    # saved as it went: a reload answers the same, and the next identical update embeds nothing
    reloaded = SearchIndex.load(tmp_path / "ix", embedder=embedder)
    assert ids(reloaded.search("titanium bottle")) == ids(index.search("titanium bottle"))
    embedder.seen.clear()
    assert reloaded.update(changed).unchanged == len(changed) and embedder.seen == []


def test_metadata_only_change_keeps_the_vector(index, embedder):
    embedder.seen.clear()
    docs = [Document(d.id, d.text, {**d.metadata, "flag": True}) if d.id == "a" else d for d in DOCS]
    report = index.update(docs)
    assert report.relabelled == ("a",) and embedder.seen == []
    assert index.search("red shoes", filters={"flag": True})[0].id == "a"


def test_bad_documents_are_rejected(embedder):
    with pytest.raises(ValueError, match="duplicate"):
        SearchIndex.build([DOCS[0], DOCS[0]], embedder=embedder)
    with pytest.raises(ValueError):
        SearchIndex.build([Document("", "x", {})], embedder=embedder)
    empty = SearchIndex.build([], embedder=embedder)
    assert empty.search("anything") == [] and empty.search("anything").reason


@pytest.mark.parametrize("damage, error", [
    (lambda p: (p / "manifest.json").unlink(), IndexCorrupt),
    (lambda p: (p / "manifest.json").write_text("{not json"), IndexCorrupt),
    (lambda p: (p / "vectors.faiss").unlink(), IndexCorrupt),
    (lambda p: (p / "vectors.faiss").write_bytes(b"garbage"), IndexCorrupt),
    (lambda p: (p / "documents.jsonl").write_text((p / "documents.jsonl").read_text().replace("Red", "Pink")), IndexCorrupt),
    (lambda p: _edit_manifest(p, format_version=99), IndexCorrupt),
    (lambda p: _edit_manifest(p, model="another-model"), IndexMismatch),
    (lambda p: _edit_manifest(p, dim=128), IndexMismatch),
])
def test_corrupt_or_mismatched_index_is_refused(index, tmp_path, damage, error):
    index.save(tmp_path / "ix")
    damage(tmp_path / "ix")
    with pytest.raises(error) as caught:
        SearchIndex.load(tmp_path / "ix", embedder=HashEmbedder())
    assert isinstance(caught.value, KnowledgeError) and caught.value.reason


def test_other_embedder_is_a_mismatch(index, tmp_path):
    index.save(tmp_path / "ix")
    with pytest.raises(IndexMismatch, match="hash-embedder"):
        SearchIndex.load(tmp_path / "ix", embedder=HashEmbedder(dim=64, name="other"))


def _edit_manifest(path, **changes):
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(changes)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_tokenize_and_fusion_golden_values():
    assert tokenize("The 1000ml Bottles, 16GB!") == ["1000ml", "1000", "ml", "bottle", "16gb", "16", "gb"]
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60)
    assert [d for d, _ in fused] == ["b", "a", "c"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    weighted = dict(weighted_fusion({"a": 0.9, "b": 0.5}, {"b": 7.0, "c": 3.0}, dense_weight=0.5))
    assert weighted == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})
