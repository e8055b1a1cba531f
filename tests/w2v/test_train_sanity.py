"""Semantic sanity on the shipped Jane Austen corpus (gensim's ``model_sanity`` idea)."""

import pytest

from gputrain.vectors.keyedvectors import KeyedVectors
from gputrain.w2v.config import Word2VecConfig
from gputrain.w2v.corpus import SAMPLE_CORPUS
from gputrain.w2v.trainer import train

HEROINES = {"anne", "marianne", "elinor", "emma", "fanny", "jane", "maria", "isabella",
            "mary", "harriet", "catherine", "lucy", "charlotte", "lydia", "julia", "kitty",
            "elizabeth", "louisa", "susan", "eleanor", "henrietta", "edmund", "edward", "tom"}
GENTLEMEN = {"knightley", "wickham", "yates", "tilney", "willoughby", "rushworth", "collins",
             "bingley", "elliot", "crawford", "churchill", "ferrars", "brandon", "bertram",
             "wentworth", "weston", "elton", "martin", "palmer", "shepherd", "bennet",
             "dashwood", "morland", "thorpe", "musgrove", "harville", "jennings", "norris",
             "grant", "price", "steele", "woodhouse", "gardiner", "lucas", "denny", "darcy"}
KIN = {"brother", "sister", "father", "mother", "aunt", "uncle", "cousin", "son",
       "daughter", "husband", "wife", "niece", "nephew", "friend"}


@pytest.mark.slow
def test_austen_neighbours_make_sense(tmp_path):
    cfg = Word2VecConfig(vector_size=50, epochs=2, seed=7, threads=1)
    result = train(SAMPLE_CORPUS, cfg, tmp_path / "ck")
    kv = KeyedVectors(result.words, result.vectors, result.counts)

    def top(word, n=10):
        return [w for w, _ in kv.most_similar(word, topn=n)]

    assert len(set(top("elizabeth")) & HEROINES) >= 6, top("elizabeth")
    assert len(set(top("darcy")) & GENTLEMEN) >= 5, top("darcy")
    for word in ("sister", "brother", "mother"):
        assert len(set(top(word)) & KIN) >= 6, (word, top(word))
    assert "evening" in top("morning", 3), top("morning")
    assert "brother" in top("sister", 5) and "sister" in top("brother", 5)
