from knowledge.documents import Document, policy_documents, shop_documents, variant_document
from knowledge.faq import load_faq, load_policy


def test_variant_document_text_and_metadata():
    doc = variant_document({"item_id": "123", "product_id": "9", "name": "Water Bottle", "price": 47.84,
                            "available": False, "options": {"capacity": "1000ml", "material": "glass"}})
    assert doc.id == "item:123"
    assert "Water Bottle" in doc.text and "capacity 1000ml" in doc.text and "$47.84" in doc.text
    assert "out of stock" in doc.text.lower()
    assert doc.metadata == {"kind": "product", "product_id": "9", "item_id": "123", "name": "Water Bottle",
                            "price": 47.84, "available": False, "sponsored": False,
                            "option.capacity": "1000ml", "option.material": "glass"}


def test_shop_documents_cover_catalog_faq_and_policy(store, shop_docs):
    kinds = {}
    for doc in shop_docs:
        kinds.setdefault(doc.metadata["kind"], []).append(doc)
    assert len(kinds["product"]) == len(store.variants()) == 591
    assert len(kinds["faq"]) == len(load_faq())
    assert {d.id for d in kinds["faq"]} == {f"faq:{e.id}" for e in load_faq()}
    assert len({d.id for d in shop_docs}) == len(shop_docs)
    assert all(d.text.strip() for d in shop_docs)


def test_long_policy_sections_are_chunked_with_their_source():
    docs = policy_documents(load_policy(), max_words=60)
    chunked = [d for d in docs if "#" in d.id]
    assert chunked, "a 60-word limit must split some section"
    for doc in chunked:
        slug, n = doc.id.split("#")
        assert doc.metadata["source"] == slug and doc.metadata["chunk"] == int(n)
        assert doc.text.startswith(doc.metadata["section"])
    # nothing is lost: every policy paragraph is in some document
    body = " ".join(d.text for d in docs)
    for paragraph in load_policy().split("\n\n"):
        if paragraph.strip() and not paragraph.startswith("#"):
            assert paragraph.strip() in body


def test_policy_chunk_lists_the_faq_questions_that_quote_it():
    docs = {d.id: d for d in policy_documents(load_policy(), faq=load_faq())}
    cancel = docs["policy:cancel-pending-order"].text
    assert "Customers ask:" in cancel and "What reasons do you accept for a cancellation?" in cancel
    assert isinstance(next(iter(docs.values())), Document)
