from collections import Counter

from knowledge.evaluate import load_pqa, load_questions


def test_labelled_shop_questions_name_real_documents(shop_docs):
    questions = load_questions()
    assert len(questions) >= 150
    known = {d.id for d in shop_docs}
    for q in questions:
        assert q["question"].strip() and q["relevant"], q
        assert set(q["relevant"]) <= known, q
    assert len({q["question"].lower() for q in questions}) == len(questions)
    kinds = Counter(q["type"] for q in questions)
    assert set(kinds) == {"faq", "policy", "product", "comparison"}
    assert kinds["product"] >= 50 and kinds["comparison"] >= 20 and kinds["faq"] + kinds["policy"] >= 50


def test_pqa_pools_evidence_and_merges_repeated_questions(tmp_path):
    rows = [
        ("A1", "does it float?", "yes, it floats.", "it floats", "CQA"),
        ("A1", "Does it  float?", "the bottle floats in water", "yes", "review"),  # same question again
        ("A1", "what colour is it?", "Yes, it floats.", "-", "OSP"),  # same sentence as row 1
        ("B2", "is it loud?", "very quiet motor", "no", "bullet"),
    ]
    path = tmp_path / "dev.csv"
    path.write_text("ASIN\tquestion\tcandidate\tanswer\tsource\n" + "".join("\t".join(r) + "\n" for r in rows))
    docs, queries = load_pqa(path)
    assert [d.text for d in docs] == ["yes, it floats.", "the bottle floats in water", "very quiet motor"]
    by_question = {q: ids for _, q, ids in queries}
    assert by_question["does it float?"] == {docs[0].id, docs[1].id}
    assert by_question["what colour is it?"] == {docs[0].id}
    assert {d.metadata["asin"] for d in docs} == {"A1", "B2"}
