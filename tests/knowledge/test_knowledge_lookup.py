from knowledge.lookup import find_order_ids, find_product_names, find_references


def test_ids_and_names_the_shop_knows(store):
    order = "#W2611340"
    item = "6469567736"  # the 1000ml blue glass water bottle
    text = (f"Hi, about order {order} and w 4817420: the item {item} (product 8310926033) broke. "
            "Do you also sell tea kettles or an Electric-Kettle? Not 1234567890 or #W0000000.")
    refs = find_references(store, text)
    assert refs.order_ids == ("#W2611340", "#W4817420")
    assert refs.item_ids == (item,)
    assert refs.product_ids == ("8310926033", "9832717871", "1075968781")
    assert refs.product_names == ("Tea Kettle", "Electric Kettle")
    assert store.get_variant(item)["name"] == "Water Bottle"


def test_longer_names_win_and_nothing_is_guessed(store):
    assert find_product_names(store, "a kettle for tea") == []
    assert [n for _, n in find_product_names(store, "my smart watch and a wristwatch")] == ["Smart Watch", "Wristwatch"]
    assert not find_references(store, "hello, can you help me?")
    assert find_order_ids(store, "W26113401") == []  # eight digits is not an order id
