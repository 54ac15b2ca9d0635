"""K-fold cross-validation of a character CRF (python-crfsuite): out-of-fold marginals for every
sentence of a corpus, never from a model that saw the sentence.

The folds are drawn with a seeded ``sklearn.model_selection.KFold``; with ``repeats`` > 1 the
K-fold is repeated with other seeds (bagging), the marginals averaged and each repeat's Viterbi
path kept, so a suspect can say how many independent models agree with its suggestion. Each
fold's model trains on at most ``max_train`` sentences (a seeded sample of the other folds): the
time and memory of a fold stay bounded whatever the corpus size (MSRA has 46k sentences).

Folds run in ``num_proc`` spawned processes; each is given the corpus once (pool initializer),
builds the features of the sentences it needs as it needs them, and returns float32 marginals.
L-BFGS is deterministic, so the same corpus and seed give the same marginals whatever
``num_proc``.

With ``lexicon`` on, each fold also learns from a gazetteer of its training labels
(``features.Lexicon``). A training sentence is given the lexicon of the other half of the training
sentences, so the model learns how far a lexicon match is to be trusted instead of learning that it
always is (a sentence's own labels are never its features); held-out sentences get the lexicon of
all the training sentences.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .features import BigramAssociation, Lexicon, char_features, spans_from_tags


@dataclass(frozen=True)
class CRFOptions:
    folds: int = 5
    repeats: int = 1
    seed: int = 42
    max_iterations: int = 40
    c1: float = 0.05
    c2: float = 0.01
    max_train: int = 8_000  # sentences a fold's model trains on, at most
    lexicon: bool = True  # gazetteer features from the fold's training labels


@dataclass
class CrossValidation:
    labels: list  # tag names; column order of every marginals array
    marginals: list  # per sentence: float32 (characters, labels), averaged over repeats
    paths: list  # per sentence: int16 (repeats, characters), each repeat's Viterbi tag indexes
    folds: list = field(default_factory=list)  # per (repeat, fold): {"repeat", "fold", "sentences", "precision", "recall", "f1"}
    fold_of: Optional[np.ndarray] = None  # the fold of each sentence in the first repeat


_STATE: dict = {}


def _init(texts, tags, labels, association_state, options) -> None:
    _STATE.update(texts=texts, tags=tags, labels=labels, options=options, association=BigramAssociation.from_state(association_state))


def _run_fold(task: tuple) -> tuple:
    import pycrfsuite

    repeat, fold, train_rows, test_rows = task
    texts, tags, labels, options, association = (_STATE[k] for k in ("texts", "tags", "labels", "options", "association"))
    trainer = pycrfsuite.Trainer(verbose=False)
    if options.lexicon:
        halves = (train_rows[0::2], train_rows[1::2])
        lexicons = [Lexicon((texts[i], tags[i]) for i in half) for half in halves]
        given = {i: lexicons[1 - h] for h, half in enumerate(halves) for i in half}
        held_out_lexicon = Lexicon((texts[i], tags[i]) for i in train_rows)
    else:
        given, held_out_lexicon = {}, None
    for i in train_rows:
        if texts[i]:
            trainer.append(char_features(texts[i], association, given.get(i)), tags[i])
    trainer.set_params({"c1": options.c1, "c2": options.c2, "max_iterations": options.max_iterations, "feature.possible_transitions": True})
    index = {label: j for j, label in enumerate(labels)}
    with tempfile.TemporaryDirectory(prefix="chinchilla-qc-") as scratch:
        model = os.path.join(scratch, "fold.crfsuite")
        trainer.train(model)
        del trainer
        tagger = pycrfsuite.Tagger()
        tagger.open(model)
        known = [(label, index[label]) for label in tagger.labels() if label in index]
        marginals, paths = [], []
        for i in test_rows:
            text = texts[i]
            m = np.zeros((len(text), len(labels)), dtype=np.float32)
            if text:
                tagger.set(char_features(text, association, held_out_lexicon))
                path = np.array([index.get(t, 0) for t in tagger.tag()], dtype=np.int16)
                for label, j in known:
                    m[:, j] = [tagger.marginal(label, t) for t in range(len(text))]
            else:
                path = np.zeros(0, dtype=np.int16)
            marginals.append(m)
            paths.append(path)
        tagger.close()
    gold = sum(len(spans_from_tags(tags[i])) for i in test_rows)
    predicted = correct = 0
    for i, path in zip(test_rows, paths):
        spans = set(spans_from_tags([labels[j] for j in path]))
        predicted += len(spans)
        correct += len(spans & set(spans_from_tags(tags[i])))
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    score = {"repeat": repeat, "fold": fold, "train_sentences": len(train_rows), "sentences": len(test_rows), "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}
    return repeat, test_rows, marginals, paths, score


def fold_tasks(count: int, options: CRFOptions) -> list:
    """``(repeat, fold, train rows, test rows)`` for every fold of every repeat, seeded."""
    from sklearn.model_selection import KFold

    tasks = []
    folds = max(2, min(options.folds, count))
    for repeat in range(options.repeats):
        seed = options.seed + repeat
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
        for fold, (train, test) in enumerate(splitter.split(np.zeros(count))):
            if len(train) > options.max_train:
                train = np.sort(np.random.default_rng([seed, fold]).choice(train, options.max_train, replace=False))
            tasks.append((repeat, fold, train.tolist(), test.tolist()))
    return tasks


def cross_validate(texts: list, tags: list, options: CRFOptions = CRFOptions(), num_proc: int = 1, progress: Optional[str] = None) -> CrossValidation:
    """Out-of-fold marginals and Viterbi paths of a character CRF for every sentence."""
    from tqdm.auto import tqdm

    labels = ["O"] + sorted({t for seq in tags for t in seq if t != "O"}, key=lambda t: (t[2:], t[:1]))
    association = BigramAssociation(texts).state()
    tasks = fold_tasks(len(texts), options)
    marginals = [None] * len(texts)
    paths = [np.zeros((options.repeats, len(t)), dtype=np.int16) for t in texts]
    fold_of = np.zeros(len(texts), dtype=np.int32)
    for _, fold, _, test in tasks[: len(tasks) // options.repeats]:
        fold_of[test] = fold
    scores = []
    bar = tqdm(total=len(tasks), desc=progress or "qc folds", unit="fold", disable=progress is None)
    args = (texts, tags, labels, association, options)
    try:
        if num_proc > 1 and len(tasks) > 1:
            pool = multiprocessing.get_context("spawn").Pool(min(num_proc, len(tasks)), initializer=_init, initargs=args)
            results = pool.imap_unordered(_run_fold, tasks)
        else:
            pool = None
            _init(*args)
            results = map(_run_fold, tasks)
        for repeat, test_rows, fold_marginals, fold_paths, score in results:
            for i, m, path in zip(test_rows, fold_marginals, fold_paths):
                marginals[i] = m if marginals[i] is None else marginals[i] + m
                paths[i][repeat] = path
            scores.append(score)
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
        _STATE.clear()
    if options.repeats > 1:
        marginals = [m / options.repeats for m in marginals]
    scores.sort(key=lambda s: (s["repeat"], s["fold"]))
    return CrossValidation(labels=labels, marginals=marginals, paths=paths, folds=scores, fold_of=fold_of)
