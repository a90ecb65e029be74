from langchain_core.runnables import RunnableLambda

from knowledge.documents import Document
from knowledge.index import SearchIndex
from knowledge.retriever import ShopRetriever


def test_retriever_in_a_small_chain(embedder):
    index = SearchIndex.build([
        Document("faq:refund", "Refunds go to the original payment method.", {"kind": "faq"}),
        Document("item:1", "Red running shoes, size 9. Price $120.00.", {"kind": "product", "price": 120.0}),
        Document("item:2", "Blue running shoes, size 10. Price $95.50.", {"kind": "product", "price": 95.5}),
    ], embedder=embedder)
    format_docs = RunnableLambda(lambda docs: "\n".join(f"[{d.metadata['id']}] {d.page_content}" for d in docs))
    chain = ShopRetriever(index=index, top_k=1) | format_docs
    assert chain.invoke("where does my refund go?") == "[faq:refund] Refunds go to the original payment method."

    cheap = ShopRetriever(index=index, top_k=5, filters={"price": (0, 100)})
    docs = cheap.invoke("running shoes")
    assert [d.id for d in docs] == ["item:2"] and docs[0].metadata["score"] > 0
    assert ShopRetriever(index=index).invoke("   ") == []
