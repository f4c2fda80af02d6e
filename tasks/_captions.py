"""Caption metrics through the real pycocoevalcap 1.2 scorers (salaniz/pycocoevalcap ad63453c), as the
COCO server and lmms-eval's `coco_aggregation_result` run them, SPICE aside.

One JVM tokenises a run's captions once (PTBTokenizer, references and predictions in one call); the
records keep the tokens, so metrics, intervals and breakdowns re-use them without Java. BLEU-1..4 and
CIDEr-D are corpus-level (BLEU sums n-gram counts over images; CIDEr's IDF comes from the references
of the images scored): they are declared "custom" and recomputed by the real scorers on each subset
the delete-a-group jackknife leaves (never a per-sample mean). ROUGE-L is the mean of per-image
scores, so it is a plain mean. METEOR 1.5 is the jar's own aggregate over the run, computed once:
it has no interval (a JVM per resample would take minutes) and no value for a subset.
SPICE needs Stanford CoreNLP 3.6.0, which pycocoevalcap downloads on start-up: it is computed only when
the two CoreNLP jars are already in pycocoevalcap's `spice/lib` folder (never downloaded here); it is
the mean of per-image F-scores, so a plain mean too. Otherwise it is reported "not computed".

Deviations from the official code, all counted or recorded: `\\r`, `\\v`, `\\f`, U+2028 and U+2029 are
line breaks to the Java tokenizer and would shift every later caption onto the wrong image, so they
are replaced by a space first (predictions so changed are counted, failure `control_chars`); an image
without a prediction is scored as "" (the scorers would refuse a missing one) and counted; the JVM runs
with LANG=C.UTF-8.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vlmeval.failure import Failure
from vlmeval.errors import UsageError
from vlmeval.metrics import Metric, Record, mean_metric
from vlmeval.task import Sample, ScoreContext, Scored

LINE_BREAKS = ("\r", "\v", "\f", "\u2028", "\u2029")  # \n is replaced by the wrapper itself
CONTROL_CHARS = "control_chars"
BLEU_ORDERS = 4
SPICE_NOTE = ("SPICE: not computed (it needs Stanford CoreNLP 3.6.0 in pycocoevalcap's spice/lib, which "
              "pycocoevalcap would download at start-up)")
CORENLP_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")

log = logging.getLogger(__name__)
_meteor: Any = None
_meteor_lock = threading.Lock()
_corpus_cache: dict[tuple[str, int], list[float]] = {}
_cooked_cache: dict[tuple[str, str, str, tuple[str, ...]], tuple[Any, Any]] = {}


def require_scorers() -> None:
    """A one-line UsageError when pycocoevalcap or Java is missing."""
    try:
        import pycocoevalcap.cider.cider  # noqa: F401
    except ImportError as exc:
        raise UsageError("caption metrics need pycocoevalcap: pip install 'vlmeval[captions]'") from exc
    if shutil.which("java") is None:
        raise UsageError("caption metrics run Java (pycocoevalcap's PTB tokenizer and METEOR 1.5): install a "
                         "Java runtime, e.g. apt-get install default-jre-headless")


@contextmanager
def utf8_locale() -> Iterator[None]:
    """LANG=C.UTF-8 for the JVMs started inside (older JREs decode stdin and files by the locale)."""
    before = os.environ.get("LANG")
    os.environ["LANG"] = "C.UTF-8"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LANG", None)
        else:
            os.environ["LANG"] = before


def without_line_breaks(text: str) -> tuple[str, bool]:
    """The text with the Java tokenizer's extra line breaks replaced by spaces, and whether it had any."""
    cleaned = text
    for char in LINE_BREAKS:
        cleaned = cleaned.replace(char, " ")
    return cleaned, cleaned != text


def ptb_tokenize(references: Sequence[Sequence[str]], captions: Sequence[str]) -> tuple[list[list[str]], list[str]]:
    """pycocoevalcap's PTBTokenizer over every reference and caption in one JVM run."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    batch: dict[tuple[str, int], list[dict[str, str]]] = {}
    for index, (refs, caption) in enumerate(zip(references, captions, strict=True)):
        batch[("r", index)] = [{"caption": without_line_breaks(r)[0]} for r in refs]
        batch[("c", index)] = [{"caption": caption}]
    with utf8_locale():
        tokens = PTBTokenizer().tokenize(batch)
    if sum(len(v) for v in tokens.values()) != sum(len(v) for v in batch.values()):
        raise RuntimeError("the PTB tokenizer returned fewer lines than captions; a line break slipped through")
    return [tokens[("r", i)] for i in range(len(captions))], [tokens[("c", i)][0] for i in range(len(captions))]


def meteor_scores(references: Sequence[Sequence[str]], captions: Sequence[str]) -> tuple[float, list[float]]:
    """METEOR 1.5's corpus score and per-image scores; one jar process per Python process."""
    global _meteor
    from pycocoevalcap.meteor.meteor import Meteor

    gts = {i: list(refs) for i, refs in enumerate(references)}
    res = {i: [caption] for i, caption in enumerate(captions)}
    with _meteor_lock:
        if _meteor is None:
            with utf8_locale():
                _meteor = Meteor()
        try:
            score, scores = _meteor.compute_score(gts, res)
        except Exception:
            _meteor = None  # a jar that failed mid-exchange is not re-used
            raise
    return float(score), [float(s) for s in scores]


def _cooked(kind: str, record: Record) -> tuple[Any, Any]:
    """One image's (references, caption) n-gram counts, made by the scorer module's own `cook_refs`
    and `cook_test` exactly as its `cook_append` makes them, once per image: the jackknife's
    recomputations then run only the scorers' aggregation (`compute_score`), which reads them."""
    caption, references = record.answer["caption"], list(record.answer["references"])
    key = (kind, record.id, caption, tuple(references))
    if key not in _cooked_cache:
        if len(_cooked_cache) > 200_000:
            _cooked_cache.clear()
        if kind == "bleu":
            from pycocoevalcap.bleu import bleu_scorer

            crefs = bleu_scorer.cook_refs(references)
            _cooked_cache[key] = (crefs, bleu_scorer.cook_test(caption, crefs))
        else:
            from pycocoevalcap.cider import cider_scorer

            _cooked_cache[key] = (cider_scorer.cook_refs(references), cider_scorer.cook_test(caption))
    return _cooked_cache[key]


def _cached(kind: str, records: Sequence[Record], compute: Any) -> list[float]:
    """Corpus values per record subset (keyed by the tokens, not only the ids): BLEU-1..4 come
    from one call, and the jackknife asks for the same subsets once per metric."""
    key = (kind, hash(tuple((r.id, r.answer["caption"], tuple(r.answer["references"])) for r in records)))
    if key not in _corpus_cache:
        if len(_corpus_cache) > 512:
            _corpus_cache.clear()
        cooked = [_cooked(kind, r) for r in records]
        _corpus_cache[key] = compute([refs for refs, _ in cooked], [test for _, test in cooked])
    return _corpus_cache[key]


def _bleu(crefs: list[Any], ctest: list[Any]) -> list[float]:
    """`Bleu(4).compute_score` on pre-cooked images: a BleuScorer holding them, option 'closest'."""
    from pycocoevalcap.bleu.bleu_scorer import BleuScorer

    scorer = BleuScorer(n=BLEU_ORDERS)
    scorer.crefs, scorer.ctest = crefs, ctest
    score, _ = scorer.compute_score(option="closest", verbose=0)
    return [float(s) for s in score]


def _cider(crefs: list[Any], ctest: list[Any]) -> list[float]:
    """`Cider().compute_score` on pre-cooked images: a CiderScorer (n 4, sigma 6) holding them."""
    from pycocoevalcap.cider.cider_scorer import CiderScorer

    scorer = CiderScorer(n=4, sigma=6.0)
    scorer.crefs, scorer.ctest = crefs, ctest
    return [float(scorer.compute_score()[0])]


def bleu_metric(order: int) -> Metric:
    def reduce(records: Sequence[Record]) -> float:
        return 100 * _cached("bleu", records, _bleu)[order - 1]

    return Metric(name=f"bleu_{order}", reduce=reduce, reduces="custom")


def _cider_reduce(records: Sequence[Record]) -> float:
    return 100 * _cached("cider", records, _cider)[0]


def _meteor_reduce(records: Sequence[Record]) -> float:
    run_size = records[0].scores.get("corpus_size")
    if run_size != len(records):
        raise ValueError("METEOR is the jar's aggregate over the whole run; it is not recomputed for a subset")
    return 100 * records[0].scores["meteor_corpus"]


METRICS: tuple[Metric, ...] = (
    # CIDEr-D x 100 passes 100 (COCO models reach 140): its own scale, not a percent (intervals unclipped)
    Metric(name="cider", reduce=_cider_reduce, reduces="custom", scale="points"),
    *(bleu_metric(order) for order in range(1, BLEU_ORDERS + 1)),
    Metric(name="meteor", reduce=_meteor_reduce, reduces="custom"),
    mean_metric("rouge_l", "rouge_l"),
    mean_metric("spice", "spice", where=lambda record: "spice" in record.scores),  # only where computed
)


def corenlp_present() -> bool:
    """Whether SPICE can start without downloading: CoreNLP 3.6.0's jars in pycocoevalcap's spice/lib."""
    import pycocoevalcap.spice.spice as spice

    lib = Path(spice.__file__).parent / "lib"
    return all((lib / jar).is_file() for jar in CORENLP_JARS)


def spice_scores(gts: dict[int, list[str]], res: dict[int, list[str]]) -> list[float] | None:
    """Per-image SPICE F-scores, or None where SPICE cannot run offline or gives an undefined score."""
    if not corenlp_present():
        return None
    from pycocoevalcap.spice.spice import Spice

    with utf8_locale():
        _, per_image = Spice().compute_score(gts, res)
    values = [float(scores["All"]["f"]) for scores in per_image]
    if not all(math.isfinite(v) for v in values):
        log.warning("SPICE gave an undefined score for some image; the official mean is NaN: not reported")
        return None
    return values


def score_captions(samples: Sequence[Sample], predictions: Sequence[str | None],
                   context: ScoreContext) -> list[Scored]:
    """Every image scored: its caption (or "") against its references, tokenised once."""
    if len(samples) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(samples)} samples")
    captions, failures = [], []
    for prediction in predictions:
        caption, changed = without_line_breaks((prediction or "").strip())
        captions.append(caption)
        failures.append(Failure.ERROR if prediction is None else Failure.EMPTY if not caption.strip()
                        else CONTROL_CHARS if changed else None)
    if all(s.target is None for s in samples):  # a test split: the server scores the submission
        return [Scored(caption, {"rouge_l": 0.0}, failure) for caption, failure in zip(captions, failures)]
    references = [list(s.target or ()) for s in samples]
    if any(not refs for refs in references):
        empty = next(s.id for s, refs in zip(samples, references) if not refs)
        raise UsageError(f"image {empty} has no reference caption; caption metrics need references")
    require_scorers()
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    tokenized_refs, tokenized = ptb_tokenize(references, captions)
    gts = dict(enumerate(tokenized_refs))
    res = {i: [caption] for i, caption in enumerate(tokenized)}
    _, ciders = Cider().compute_score(gts, res)
    rouge = Rouge()
    corpus_meteor, meteors = meteor_scores(tokenized_refs, tokenized)
    spices = spice_scores(gts, res)
    verdicts = []
    for i, failure in enumerate(failures):
        scores = {"rouge_l": float(rouge.calc_score(res[i], gts[i])), "cider_image": float(ciders[i]),
                  "meteor_image": meteors[i], "meteor_corpus": corpus_meteor, "corpus_size": float(len(samples))}
        if spices is not None:
            scores["spice"] = spices[i]
        verdicts.append(Scored({"caption": tokenized[i], "references": tokenized_refs[i]}, scores, failure))
    return verdicts
