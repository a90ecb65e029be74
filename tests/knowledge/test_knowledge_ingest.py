import argparse
import logging

from knowledge.embeddings import HashEmbedder
from knowledge.errors import IndexMismatch
from knowledge.index import SearchIndex
from knowledge.ingest import add_arguments, index_path, open_shop_index, refresh_shop_index, run


def test_open_shop_index_builds_then_reuses(data_dir, embedder):
    index = open_shop_index(data_dir, embedder=embedder)
    assert len(index) > 600 and (data_dir / "index" / "manifest.json").is_file()
    assert index.search("glass water bottle", top_k=1, filters={"kind": "product"})[0].metadata["name"] == "Water Bottle"
    embedder.seen.clear()
    again, what = refresh_shop_index(data_dir, embedder=embedder)
    assert embedder.seen == [] and "0 added, 0 changed" in what


def test_catalog_change_is_picked_up(data_dir, embedder):
    from knowledge.store import open_store
    open_shop_index(data_dir, embedder=embedder)
    store = open_store(data_dir)
    order = store.get_order("#W2611340")
    assert order  # the store is the demo shop; now change the catalog behind the index's back
    with store.transaction() as conn:  # the shop's own database, on either backend
        conn.execute("UPDATE variants SET price = 1.23 WHERE item_id = '6469567736'")
    store.close()
    embedder.seen.clear()
    index, what = refresh_shop_index(data_dir, embedder=embedder)
    assert "1 changed" in what and len(embedder.seen) == 1
    assert index.get("item:6469567736").metadata["price"] == 1.23


def test_mismatched_or_corrupt_index_is_rebuilt_with_a_warning(data_dir, caplog):
    open_shop_index(data_dir, embedder=HashEmbedder(dim=64, name="old-model"))
    caplog.set_level(logging.WARNING)
    index, what = refresh_shop_index(data_dir, embedder=HashEmbedder())
    assert what.startswith("rebuilt") and "old-model" in caplog.text
    assert SearchIndex.load(index_path(data_dir), embedder=HashEmbedder()).embedder.dim == 256
    (index_path(data_dir) / "vectors.faiss").write_bytes(b"\0" * 10)
    caplog.clear()
    _, what = refresh_shop_index(data_dir, embedder=HashEmbedder())
    assert "rebuilt" in what and "vectors.faiss" in caplog.text
    try:
        SearchIndex.load(index_path(data_dir), embedder=HashEmbedder(dim=64, name="old-model"))
    except IndexMismatch as exc:
        assert "hash-embedder" in str(exc)
    else:
        raise AssertionError("a mismatched index was used")


def test_cli_run_prints_what_changed(data_dir, capsys, monkeypatch):
    import knowledge.embeddings
    fake = HashEmbedder()
    monkeypatch.setattr(knowledge.embeddings, "default_embedder", lambda: fake)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    args.data_dir = str(data_dir)
    assert run(args) == 0
    assert "built (641 documents)" in capsys.readouterr().out
    assert run(args) == 0
    assert "641 unchanged" in capsys.readouterr().out
    args = parser.parse_args(["--rebuild"])
    args.data_dir = str(data_dir)
    assert run(args) == 0 and "rebuilt" in capsys.readouterr().out


def test_setup_step_is_idempotent(data_dir, monkeypatch):
    import knowledge.embeddings
    from knowledge.ingest import setup_step
    fake = HashEmbedder()
    monkeypatch.setattr(knowledge.embeddings, "default_embedder", lambda: fake)
    assert "built (641 documents)" in setup_step(data_dir)
    assert "0 added, 0 changed, 0 metadata-only, 0 removed, 641 unchanged" in setup_step(data_dir)
    assert "rebuilt" in setup_step(data_dir, force=True)
