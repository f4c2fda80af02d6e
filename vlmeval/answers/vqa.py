r"""VQA answer normalisation and the official VQA accuracy (VQAv2, VizWiz).

Two separate, composable steps, as on the EvalAI server, which scores the answer a submission holds:

1. :func:`evalai_normalize` -- the EvalAI answer processor as LLaVA applies it to every answer before
   submission (haotian-liu/LLaVA ``llava/eval/m4c_evaluator.py``, class ``EvalAIAnswerProcessor``, itself
   taken from facebookresearch/mmf): lower-case; remove ``,`` and ``?``; ``'s`` -> `` 's``; strip;
   newline/tab -> space and strip; punctuation; number words, articles, contractions. Unconditional.
2. :func:`vqa_accuracy` -- the per-question accuracy of the official evaluator
   (GT-Vision-Lab/VQA ``PythonEvaluationTools/vqaEvaluation/vqaEval.py``, master, ``VQAEval.evaluate``).

:func:`vqa_score` chains the two. VizWiz's own evaluator differs from VQAv2's: :func:`vizwiz_accuracy`.

Rules reproduced from vqaEval.py (tables below are facts from that file and from m4c_evaluator.py,
whose contraction, number, article and punctuation tables are identical, 120 contractions):

* Prediction and every ground-truth answer: ``\n`` and ``\t`` -> space, then ``strip()``.
* Only when the cleaned ground-truth strings are not all identical are BOTH sides normalised with
  ``processPunctuation`` then ``processDigitArticle``. With 10 identical answers nothing is
  normalised: the match is raw and case-sensitive (gts all ``"Yes"`` vs prediction ``"yes"`` scores 0;
  gts all ``"two"`` vs an EvalAI-normalised ``"2"`` scores 0).
* processPunctuation: each of ``; / [ ] " { } ( ) = + \ _ - > < @ ` , ? !`` is deleted if the INPUT
  has it next to a space (``p + " "`` or ``" " + p``) or if the input contains digit-comma-digit
  anywhere, otherwise replaced by a space; then periods are deleted by ``(?!<=\d)(\.)(?!\d)``.
* processDigitArticle: ``lower().split()``, number words none/zero..ten -> digits, drop a/an/the,
  map contractions, join with single spaces.
* acc = mean over annotators i of ``min(1, #{j != i : gt_j == pred} / 3)``, summed left to right.

Quirks of the official code, reproduced on purpose:

* ``periodStrip``'s ``(?!<=\d)`` is a typo for a look-behind: it is a look-ahead for the text ``<=``
  + digit, always true before a period, so a period is removed whenever no digit follows
  (``"3."`` -> ``"3"``, ``"U.S.A."`` -> ``"USA"``, ``"3.5"`` kept).
* ``periodStrip.sub("", text, re.UNICODE)`` passes ``re.UNICODE`` (= 32) as ``count``: at most 32
  periods are removed per answer.
* The space-adjacency and digit-comma-digit tests look at the text before any replacement.
* The digit-comma-digit test makes every listed punctuation mark vanish, not only the comma
  (``"1,000-2,000"`` -> ``"10002000"``). In the EvalAI processor commas are already gone, so there
  the rule never fires (``"1,000-2,000"`` -> ``"1000 2000"``).
* The apostrophe, ``:``, ``%``, ``&``, ``*``, ``#`` and ``$`` are not punctuation marks here.
* Keys ``Im``, ``Ive``, ``Id've``, ``I'dve`` hold capitals but are looked up after ``lower()``, so
  they never apply; ``"somebody'd"`` maps to ``"somebodyd"`` (reversed entry).
* A lone article normalises to the empty string (``"a"`` -> ``""``).
* The evaluator rewrites ``ansDic['answer']`` in place in the annotation object; here inputs are never
  mutated (the in-place write only matters if one evaluator object is run twice).
* Leave-one-out drops annotators by dict inequality (``item != gtAnsDatum``); VQAv2 answer dicts
  carry a unique ``answer_id``, so that is leave-one-out by position, which is what we do.
* ``manualMap.setdefault`` grows the table with every word seen; no effect on results.
* Older revisions of vqaEval.py (and Cloud-CV's challenge copy) always normalised the prediction but
  gave the ground truths ``processPunctuation`` only. The master rule above is what is implemented.

Speed: regexes are compiled once, punctuation is one ``str.translate``, and the cleaning and
normalisation of single strings and the leave-one-out mean of each match pattern are cached.
:func:`vqa_accuracies` scores a whole split at once, with the same result for every question.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain, count

# Contractions table of vqaEval.py / m4c_evaluator.py (keys are looked up after lower-casing).
CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've",
    "hasnt": "hasn't", "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've",
    "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've",
    "I'dve": "I'd've", "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've",
    "it'dve": "it'd've", "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't", "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd", "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've", "somebodyll": "somebody'll", "somebodys": "somebody's",
    "someoned": "someone'd", "someoned've": "someone'd've", "someone'dve": "someone'd've",
    "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've",
    "somethingll": "something'll", "thats": "that's", "thered": "there'd", "thered've": "there'd've",
    "there'dve": "there'd've", "therere": "there're", "theres": "there's", "theyd": "they'd",
    "theyd've": "they'd've", "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're",
    "theyve": "they've", "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're", "whats": "what's",
    "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's",
    "whereve": "where've", "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've",
    "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're",
    "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've",
    "youll": "you'll", "youre": "you're", "youve": "you've",
}
NUMBER_WORDS: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
ARTICLES: frozenset[str] = frozenset({"a", "an", "the"})
PUNCTUATION: tuple[str, ...] = (
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!",
)

# The official pattern, typo included (see the module docstring).
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_PERIOD_STRIP_MAX = int(re.UNICODE)  # vqaEval passes re.UNICODE where sub() expects count
_OFFICIAL_COMMA = re.compile(r"(\d)(\,)(\d)")
_EVALAI_COMMA = re.compile(r"(?<=\d)(\,)+(?=\d)")
_ANY_PUNCT = re.compile("[" + re.escape("".join(PUNCTUATION)) + "]")
_DELETE_ALL_PUNCT: dict[int, None] = {ord(p): None for p in PUNCTUATION}
_CACHE_SIZE = 1 << 18
# Every word processDigitArticle may change or drop (with the VQA contractions table).
_CHANGED_WORDS: frozenset[str] = frozenset(NUMBER_WORDS) | ARTICLES | frozenset(CONTRACTIONS)


def _punctuation(text: str, comma_rule: re.Pattern[str]) -> str:
    # Each mark's fate depends only on the input text, so one translate equals the official
    # sequence of replace() calls (the replacement, a space or nothing, is never itself a mark).
    marks = set(_ANY_PUNCT.findall(text))
    if marks:
        if comma_rule.search(text) is not None:
            text = text.translate(_DELETE_ALL_PUNCT)
        else:
            table: dict[int, str | None] = {}
            for mark in marks:
                next_to_space = (mark + " " in text) or (" " + mark in text)
                table[ord(mark)] = None if next_to_space else " "
            text = text.translate(table)
    if "." in text:
        text = _PERIOD_STRIP.sub("", text, count=_PERIOD_STRIP_MAX)
    return text


def process_punctuation(text: str) -> str:
    """``VQAEval.processPunctuation`` of the official evaluator."""
    return _punctuation(text, _OFFICIAL_COMMA)


def process_digit_article(text: str, contractions: dict[str, str] = CONTRACTIONS) -> str:
    """``VQAEval.processDigitArticle``: lower-case, number words to digits, drop articles, contractions."""
    lowered = text.lower().split()
    if contractions is CONTRACTIONS and _CHANGED_WORDS.isdisjoint(lowered):
        return " ".join(lowered)  # most answers: no word to change, no per-word Python loop
    words: list[str] = []
    for word in lowered:
        word = NUMBER_WORDS.get(word, word)
        if word not in ARTICLES:
            words.append(contractions.get(word, word))
    return " ".join(words)


# VizWiz's own evaluator (the VizWiz API `vqaEval.py` by Qing Li, used by the VizWiz-VQA challenge)
# keeps the older VQA contraction table whose keys and values mostly use the curly apostrophe U+2019:
# the straight table above with ' -> ’ everywhere except these eight values and two keys.
_STRAIGHT_IN_VIZWIZ_VALUES = frozenset({"aint", "arent", "cant", "couldve", "couldnt", "weve", "wheres", "whove"})
_STRAIGHT_IN_VIZWIZ_KEYS = frozenset({"couldn'tve", "hadn'tve"})
VIZWIZ_CONTRACTIONS: dict[str, str] = {
    (key if key in _STRAIGHT_IN_VIZWIZ_KEYS else key.replace("'", "\u2019")):
    (value if key in _STRAIGHT_IN_VIZWIZ_VALUES else value.replace("'", "\u2019"))
    for key, value in CONTRACTIONS.items()
}


def _clean_whitespace(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


@lru_cache(maxsize=_CACHE_SIZE)
def _clean_and_normalize(raw: str) -> tuple[str, str]:
    """(whitespace-cleaned answer, its official normalisation); cached because answers repeat a lot."""
    cleaned = _clean_whitespace(raw)
    return cleaned, process_digit_article(process_punctuation(cleaned))


@lru_cache(maxsize=_CACHE_SIZE)
def _evalai_normalize(answer: str) -> str:
    text = answer.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    text = _clean_whitespace(text)
    return process_digit_article(_punctuation(text, _EVALAI_COMMA))


@lru_cache(maxsize=1 << 12)  # 2**10 match patterns for 10 answers
def _leave_one_out_mean(matches: tuple[bool, ...]) -> float:
    # Annotator i sees the matches among the others; summed left to right like the official
    # Python-2 sum(), so results are bit-identical (Python >= 3.12's sum() compensates rounding).
    n_matches = sum(matches)
    total = 0.0
    for own_match in matches:
        total += min(1.0, (n_matches - own_match) / 3)
    return total / len(matches)


def evalai_normalize(answer: str) -> str:
    """The EvalAI answer processor (LLaVA ``EvalAIAnswerProcessor.__call__``), applied unconditionally."""
    if not isinstance(answer, str):
        raise TypeError(f"answer must be str, got {type(answer).__name__}")
    return _evalai_normalize(answer)


def vqa_accuracy(prediction: str, gt_answers: Sequence[str]) -> float:
    """Official per-question VQA accuracy in [0, 1] of ``prediction`` against the human answers.

    ``prediction`` is taken as the caller passes it, normally already through
    :func:`evalai_normalize`; the evaluator's own cleaning and conditional normalisation follow.
    """
    if not isinstance(prediction, str):
        raise TypeError(f"prediction must be str, got {type(prediction).__name__}")
    if isinstance(gt_answers, str):
        raise TypeError("gt_answers must be a sequence of answers, not one string")
    pairs = list(map(_clean_and_normalize, gt_answers))
    if not pairs:
        raise ValueError("gt_answers is empty")
    cleaned, normalized = zip(*pairs)
    if cleaned.count(cleaned[0]) != len(cleaned):  # the answers differ: normalise both sides
        matches = tuple(map(_clean_and_normalize(prediction)[1].__eq__, normalized))
    else:
        matches = tuple(map(_clean_whitespace(prediction).__eq__, cleaned))
    return _leave_one_out_mean(matches)


def vqa_accuracies(predictions: Sequence[str], gt_lists: Sequence[Sequence[str]]) -> list[float]:
    """:func:`vqa_accuracy` of every (prediction, ground truths) pair, bit for bit, in one pass.

    At VQAv2-val scale (214k questions, 2.1 M answers) question-by-question scoring cost ~1.3 s with
    cold caches, ~0.9 s warm; this takes ~1.05 s and ~0.55 s (benchmarks/vqa_scoring.py). Each
    distinct string is cleaned and normalised once and numbered (equal numbers, equal strings);
    the "do the answers differ" test, the matches and the leave-one-out sum then run on numpy
    arrays. The sum still adds annotator by annotator, left to right, in float64 as Python does,
    so every accuracy equals :func:`vqa_accuracy`'s exactly (tests/answers/test_vqa.py compares
    them on random answers and with a naive restatement of the official loop).
    """
    import numpy as np

    if len(predictions) != len(gt_lists):
        raise ValueError(f"{len(predictions)} predictions for {len(gt_lists)} ground-truth lists")
    if set(map(type, predictions)) - {str}:
        index, wrong = next((i, p) for i, p in enumerate(predictions) if not isinstance(p, str))
        raise TypeError(f"prediction {index} must be str, got {type(wrong).__name__}")
    if str in set(map(type, gt_lists)):
        index = next(i for i, gts in enumerate(gt_lists) if isinstance(gts, str))
        raise TypeError(f"gt_answers {index} must be a sequence of answers, not one string")
    if not predictions:
        return []
    lengths = np.fromiter(map(len, gt_lists), dtype=np.int64, count=len(gt_lists))
    if not lengths.all():
        raise ValueError(f"gt_answers {int(np.argmin(lengths))} is empty")
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    flat = list(chain.from_iterable(gt_lists))

    # Each answer string is named by the position of its first occurrence (one pass in C), and
    # each distinct cleaned or normalised string by a number: equal numbers, equal strings.
    first_seen: dict[str, int] = {}
    occurrence = np.fromiter(map(first_seen.setdefault, flat, count()), dtype=np.int64, count=len(flat))
    numbers: dict[str, int] = {}
    cleaned_at = np.zeros(len(flat), dtype=np.int64)
    normalized_at = np.zeros(len(flat), dtype=np.int64)
    for raw, at in first_seen.items():
        cleaned, normalized = _clean_and_normalize(raw)
        cleaned_at[at] = numbers.setdefault(cleaned, len(numbers))
        normalized_at[at] = numbers.setdefault(normalized, len(numbers))
    gt_cleaned, gt_normalized = cleaned_at[occurrence], normalized_at[occurrence]
    unseen = -1  # a prediction no ground truth equals
    own: dict[str, tuple[int, int]] = {}  # distinct prediction -> (cleaned, normalised) number
    for prediction in dict.fromkeys(predictions):
        cleaned, normalized = _clean_and_normalize(prediction)
        own[prediction] = (numbers.get(cleaned, unseen), numbers.get(normalized, unseen))
    own_numbers = np.array(list(map(own.__getitem__, predictions)), dtype=np.int64).reshape(len(predictions), 2)
    own_cleaned, own_normalized = own_numbers[:, 0], own_numbers[:, 1]

    differ = np.minimum.reduceat(gt_cleaned, starts) != np.maximum.reduceat(gt_cleaned, starts)
    matches = np.where(np.repeat(differ, lengths),
                       gt_normalized == np.repeat(own_normalized, lengths),
                       gt_cleaned == np.repeat(own_cleaned, lengths)).astype(np.int64)
    n_matches = np.add.reduceat(matches, starts)

    total = np.zeros(len(lengths), dtype=np.float64)
    if (lengths == lengths[0]).all():  # VQAv2: always 10 answers, one column per annotator
        by_annotator = matches.reshape(len(lengths), int(lengths[0]))
        for annotator in range(int(lengths[0])):  # the official left-to-right sum
            total += np.minimum(1.0, (n_matches - by_annotator[:, annotator]) / 3)
    else:
        question = np.repeat(np.arange(len(lengths)), lengths)
        position = np.arange(len(flat)) - np.repeat(starts, lengths)
        for annotator in range(int(lengths.max())):
            at = position == annotator
            asked = question[at]
            total[asked] += np.minimum(1.0, (n_matches[asked] - matches[at]) / 3)
    accuracies: list[float] = (total / lengths).tolist()
    return accuracies


@lru_cache(maxsize=_CACHE_SIZE)
def _vizwiz_normalize(answer: str) -> str:
    cleaned = _clean_whitespace(answer)
    return process_digit_article(process_punctuation(cleaned), VIZWIZ_CONTRACTIONS)


def vizwiz_accuracy(prediction: str, gt_answers: Sequence[str]) -> float:
    """Per-question accuracy of VizWiz's evaluator (VizWiz API ``vqaEval.py``, ``VQAEval.evaluate``).

    Unlike VQAv2's: the submitted answer is always cleaned (newline/tab -> space, strip) and
    normalised (punctuation, then number words, articles and VizWiz's curly-apostrophe contractions),
    and compared with the RAW human answers, which are never cleaned or normalised, also when they
    differ. ``unanswerable`` against ``unanswerable`` x2, ``Unanswerable`` x3, ``unsuitable`` x5 is 0.6.
    Leave-one-out by position, as the official ``i != j``.
    """
    if not isinstance(prediction, str):
        raise TypeError(f"prediction must be str, got {type(prediction).__name__}")
    if isinstance(gt_answers, str):
        raise TypeError("gt_answers must be a sequence of answers, not one string")
    if not gt_answers:
        raise ValueError("gt_answers is empty")
    return _leave_one_out_mean(tuple(map(_vizwiz_normalize(prediction).__eq__, gt_answers)))


def vizwiz_accuracies(predictions: Sequence[str], gt_lists: Sequence[Sequence[str]]) -> list[float]:
    """:func:`vizwiz_accuracy` of every pair (VizWiz sets are small: question by question)."""
    if len(predictions) != len(gt_lists):
        raise ValueError(f"{len(predictions)} predictions for {len(gt_lists)} ground-truth lists")
    return [vizwiz_accuracy(p, gts) for p, gts in zip(predictions, gt_lists)]


def vqa_score(prediction: str, gt_answers: Sequence[str]) -> float:
    """``vqa_accuracy(evalai_normalize(prediction), gt_answers)``: a raw model answer as the server scores it."""
    return vqa_accuracy(evalai_normalize(prediction), gt_answers)


def clear_caches() -> None:
    """Drop the memoised normalisations (for benchmarks and long-lived processes)."""
    _clean_and_normalize.cache_clear()
    _evalai_normalize.cache_clear()
    _vizwiz_normalize.cache_clear()
    _leave_one_out_mean.cache_clear()
