"""The reader's parts (bot/understand.py puts them together): the catalog lexicon, identifier patterns, the
clause classifier and its training data, the learned heads for price bounds and cancel reasons, and the message
generator. Language-specific words live in bot/data/nlu/*_<language>.yaml, not here."""
