"""The per-record renderer: unified records rendered one by one into instruction rows.

``RecordLoopRenderer`` holds what every row shares (label batches, their instructions and empty
answers, row id suffixes) and renders a table record by record (``_loop_rows``). It is used in
production for the records the Arrow fast path (``renderer.InstructRenderer``, its subclass) does
not take — all-empty training records, labels outside the schema, nulls, relations with several
qualifiers — and it is the reference the tests compare the fast path with
(``tests/test_instruct.py::test_vectorized_rows_equal_the_loop``)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import TASK_COLUMN
from .arrow_columns import _annotations
from .negatives import NegativeRanker, train_batches
from .templates import (
    INSTRUCT_COLUMNS,
    INSTRUCT_SCHEMA,
    MAX_TEMPLATES,
    ROW_TASKS,
    DEFAULT_LANGUAGE,
    TRAIN_SPLIT,
    InstructOptions,
    describe,
    dump_answer,
    hash64,
    list_punctuation,
    row_hashes,
    template_candidates,
)


class _Rank(dict):
    """``{label: schema position}``; a label outside the schema sorts after all of it."""

    def __missing__(self, label) -> int:
        return len(self)


class _Display(dict):
    """``{label: readable name}``; a label without one is shown as itself."""

    def __missing__(self, label):
        return label


class _Batch:
    """What the rows asking for one batch of labels share: readable names, the all-empty answer and
    the instruction text per template. The object itself is the prompt key of its rows (``render``);
    ``subtask`` is the key of its EET rows. Made for most training rows: kept cheap."""

    __slots__ = ("task", "labels", "names", "distinct_names", "_empty", "texts", "_subtask")

    def __init__(self, task: str, labels: tuple, display: _Display):
        self.task = task
        self.labels = labels
        self.names = tuple(map(display.__getitem__, labels))
        self.distinct_names = len(set(self.names)) == len(self.names)
        self._empty = None
        self.texts: dict = {}  # (template id, with roles) -> instruction
        self._subtask = None

    @property
    def empty(self) -> bytes:
        """The JSON answer with every label and no mention (training batches hold a gold label: rarely needed)."""
        if self._empty is None:
            self._empty = dump_answer({name: [] for name in self.names})
        return self._empty

    @property
    def subtask(self) -> "_Subtask":
        if self._subtask is None:
            self._subtask = _Subtask(self)
        return self._subtask


class _EvalBatches(list):
    """The batches of an evaluation record (the whole schema), with what every record shares:
    which batch holds each label, and the rows' empty answers."""

    __hash__ = object.__hash__  # one object per task: compared by identity
    __eq__ = object.__eq__

    def __init__(self, batches: list):
        super().__init__(batches)
        self.of_label = {label: b for b, batch in enumerate(batches) for label in batch.labels}
        self.empty = [batch.empty for batch in batches]


class _Subtask:
    """The prompt key of the EET rows of a batch (the same labels, listed without roles)."""

    __slots__ = ("batch",)

    def __init__(self, batch: _Batch):
        self.batch = batch


class RecordLoopRenderer:
    """The state rendering shares (label batches, instructions, suffixes; cached per renderer) and
    the per-record loop over a unified Arrow table (``_loop_rows``)."""

    def __init__(self, split: str, schema: dict, options: Optional[InstructOptions] = None, stats: Optional[dict] = None):
        self.split = split
        self.options = options = (options or InstructOptions()).in_language(DEFAULT_LANGUAGE)
        self.separator = list_punctuation(options.language)[0]
        self.train = split == TRAIN_SPLIT
        self.display = _Display(schema["types"])
        self.all_labels = [label for label, _ in schema["types"]]
        self.roles = schema.get("roles", {})
        self.order = {label: i for i, label in enumerate(self.all_labels)}
        self.stats = stats or {"cooccur": {}, "empty_threshold": -1}
        self.ranker = NegativeRanker(self.stats["cooccur"], self.all_labels, options.seed)
        self.params = {**options.to_dict(), "split_mode": "train" if self.train else "eval"}
        self.candidates = {task: template_candidates(task, options.language) for task in ROW_TASKS}
        if max(len(c) for c in self.candidates.values()) > MAX_TEMPLATES:
            raise ValueError(f"more than {MAX_TEMPLATES} templates for one task and language")
        self.rank = _Rank(self.order)
        self.batches: dict = {}  # label tuple -> _Batch
        self.eval_batches: dict = {}  # task -> _EvalBatches
        self.suffixes: dict = {}  # row id suffix ("re0", "eet1", "eea2", ...) -> index
        self.suffix_hashes = np.zeros(0, dtype=np.uint64)

    # -- per label batch (cached)
    def _batch(self, task: str, labels: tuple) -> _Batch:
        batch = self.batches.get((task, labels))
        if batch is None:
            if len(self.batches) > 20_000:  # train batches vary with the negatives: keep memory bounded
                self.batches.clear()
            batch = self.batches[task, labels] = _Batch(task, labels, self.display)
        return batch

    def _prompt(self, key) -> tuple:
        """``(task, schema list)`` of a prompt key (see ``render``)."""
        if isinstance(key, tuple):  # EEA: (event type, trigger, roles)
            return "EEA", key[2]
        if isinstance(key, _Batch):
            return key.task, key.names
        return "EET", key.batch.names

    def _instruction(self, key, template: dict) -> str:
        """The instruction of a prompt key in a template."""
        if isinstance(key, tuple):
            event_type, trigger, roles = key
            return template["text"].format(event_type=self.display.get(event_type, event_type), trigger=trigger, schema=self.separator.join(roles))
        batch, with_roles = (key, True) if isinstance(key, _Batch) else (key.batch, False)
        text = batch.texts.get((template["id"], with_roles))
        if text is None:
            roles = self.roles if with_roles else {}
            text = batch.texts[template["id"], with_roles] = template["text"].format(schema=describe(list(batch.labels), self.display, roles, self.options.language))
        return text

    @staticmethod
    def _answer(task: str, batch: "_Batch", gold: dict) -> dict:
        """The gold answer restricted to a batch's labels: every label a key (readable name), in order."""
        if batch.distinct_names:
            return dict(zip(batch.names, [gold.get(label, ()) for label in batch.labels]))
        answer: dict = {}
        for label, name in zip(batch.labels, batch.names):
            items = gold.get(label, [])
            if name not in answer:
                answer[name] = items
            else:  # two labels shown under one name: one list, as if one type
                merged = answer[name] = list(answer[name])
                merged.extend(item for item in items if task == "EE" or item not in merged)
        return answer

    def _schema_batches(self, task: str) -> "_EvalBatches":
        batches = self.eval_batches.get(task)
        if batches is None:
            k, labels = self.options.batch_size(task), self.all_labels
            batches = self.eval_batches[task] = _EvalBatches([self._batch(task, tuple(labels[i : i + k])) for i in range(0, len(labels), k)])
        return batches

    def _evaluation_batches(self, tasks: list, golds: list) -> list:
        """The label batches (``_Batch``) of each evaluation record's rows: the whole schema, then
        any gold label it lacks. A record whose labels are all in the schema gets its task's
        ``_EvalBatches``."""
        out = []
        for task, gold in zip(tasks, golds):
            if self.rank.keys() >= gold.keys():
                out.append(self._schema_batches(task))
            else:
                k = self.options.batch_size(task)
                labels = self.all_labels + [label for label in gold if label not in self.rank]
                out.append([self._batch(task, tuple(labels[i : i + k])) for i in range(0, len(labels), k)])
        return out

    def _train_record_batches(self, task: str, gold: dict, wanted: Optional[int], ranked: list) -> list:
        if wanted is None:
            return []  # an all-empty record beyond the cap (counted in the build report)
        chosen = [self.all_labels[j] for j in ranked[:wanted]]
        if not gold:
            return [self._batch(task, tuple(chosen))]
        return [self._batch(task, tuple(batch)) for batch in train_batches(list(gold), chosen, self.options.batch_size(task), self.rank)]

    def _eea_answer(self, event_type: str, arguments: list) -> tuple:
        """``(roles, answer)`` of an event's EEA row: its type's schema roles, then any other role
        it has; each role's distinct argument texts."""
        event_roles = list(dict.fromkeys([*self.roles.get(event_type, []), *(role for role, _ in arguments)]))
        answer: dict = {role: [] for role in event_roles}
        for role, text in arguments:
            if text not in answer[role]:
                answer[role].append(text)
        return tuple(event_roles), dump_answer(answer)

    def _suffixes(self, kind: str, count: int) -> list:
        """Indices of the row id suffixes ``<kind>0`` ... ``<kind><count-1>``."""
        out = []
        for b in range(count):
            suffix = f"{kind}{b}"
            index = self.suffixes.get(suffix)
            if index is None:
                index = self.suffixes[suffix] = len(self.suffixes)
                self.suffix_hashes = np.append(self.suffix_hashes, hash64([suffix], self.options.seed))
            out.append(index)
        return out

    def _loop_rows(self, table: pa.Table, record_hashes: np.ndarray, plan: Optional[tuple] = None) -> tuple:
        """``(rows, record of each row)`` of records rendered one by one: an evaluation table
        (``plan`` None), or training records with their ``(wanted, ranking)`` from the plan."""
        tasks = table.column("task").to_pylist()
        annotations = {
            task: _annotations(table.column(TASK_COLUMN[task]).combine_chunks(), task) for task in set(tasks) if task in TASK_COLUMN
        }
        subtasks = self.train and self.options.subtasks
        # Per row: the record it comes from, its id suffix, its answer and its prompt. A prompt is
        # what decides the instruction besides the template: a _Batch, its _Subtask (EET rows) or,
        # for EEA, (event type, trigger, roles); resolved per distinct prompt in _assemble.
        rows_record, rows_suffix, rows_output, rows_prompt = [], [], [], []
        prompts: dict = {}  # prompt -> index
        shared: dict = {}  # _EvalBatches -> (suffix indices, prompt indices) in this table

        golds = []  # per record: label -> its answer items, deduplicated (NER, RE), in record order
        for i, task in enumerate(tasks):
            offsets, labels, items, _ = annotations[task]
            gold: dict = {}
            for j in range(offsets[i], offsets[i + 1]):
                bucket = gold.setdefault(labels[j], [])
                if task == "EE":
                    trigger, arguments = items[j]
                    bucket.append({"trigger": trigger, "arguments": [{"role": role, "argument": text} for role, text in arguments]})
                elif items[j] not in bucket:
                    bucket.append(items[j])
            golds.append(gold)
        if plan is None:
            record_batches = self._evaluation_batches(tasks, golds)
        else:
            wanted, ranking = plan
            ranked = ranking.tolist()
            record_batches = [
                self._train_record_batches(task, gold, None if w < 0 else w, ranked[i]) for i, (task, gold, w) in enumerate(zip(tasks, golds, wanted.tolist()))
            ]

        for i, (task, gold, batches) in enumerate(zip(tasks, golds, record_batches)):
            if isinstance(batches, _EvalBatches):  # the common evaluation record: whole rows at once
                if batches not in shared:
                    shared[batches] = (self._suffixes(task.lower(), len(batches)), [prompts.setdefault(batch, len(prompts)) for batch in batches])
                suffixes, prompt_indices = shared[batches]
                outputs = batches.empty
                if gold:
                    outputs = list(outputs)
                    for b in {batches.of_label[label] for label in gold}:
                        outputs[b] = dump_answer(self._answer(task, batches[b], gold))
                rows_record.extend([i] * len(batches))
                rows_suffix.extend(suffixes)
                rows_output.extend(outputs)
                rows_prompt.extend(prompt_indices)
                continue
            answers = []
            for batch, suffix in zip(batches, self._suffixes(task.lower(), len(batches))):
                if gold and not gold.keys().isdisjoint(batch.labels):
                    answer = self._answer(task, batch, gold)
                    output = dump_answer(answer)
                else:
                    answer, output = None, batch.empty
                answers.append(answer)
                rows_record.append(i)
                rows_suffix.append(suffix)
                rows_output.append(output)
                rows_prompt.append(prompts.setdefault(batch, len(prompts)))
            if not (subtasks and task == "EE"):
                continue
            for batch, answer, suffix in zip(batches, answers, self._suffixes("eet", len(batches))):
                if answer is None:
                    output = batch.empty
                else:
                    output = dump_answer({name: [event["trigger"] for event in events] for name, events in answer.items()})
                rows_record.append(i)
                rows_suffix.append(suffix)
                rows_output.append(output)
                rows_prompt.append(prompts.setdefault(batch.subtask, len(prompts)))
            offsets, labels, items, _ = annotations[task]
            for j, suffix in zip(range(offsets[i], offsets[i + 1]), self._suffixes("eea", offsets[i + 1] - offsets[i])):
                trigger, arguments = items[j]
                event_roles, output = self._eea_answer(labels[j], arguments)
                rows_record.append(i)
                rows_suffix.append(suffix)
                rows_output.append(output)
                rows_prompt.append(prompts.setdefault((labels[j], trigger, event_roles), len(prompts)))
        record_of_row = np.asarray(rows_record, dtype=np.int64)
        suffix_of_row = np.asarray(rows_suffix, dtype=np.int64)
        prompt_of_row = np.asarray(rows_prompt, dtype=np.int64)
        return self._assemble(table, record_hashes, record_of_row, suffix_of_row, rows_output, prompt_of_row, prompts), record_of_row

    def _assemble(self, table: pa.Table, record_hashes: np.ndarray, record_of_row: np.ndarray, suffix_of_row: np.ndarray, outputs: list, prompt_of_row: np.ndarray, prompts: dict) -> pa.Table:
        """The rows of a table from, per row, its record, id suffix, answer (JSON bytes) and prompt
        (an index into ``prompts``): row ids, templates, instructions, schema lists and tasks are
        resolved with numpy and Arrow, each instruction text once per (prompt, template)."""
        n = len(record_of_row)
        keys = list(prompts)
        prompt_list = [self._prompt(key) for key in keys]  # (task, schema list)
        # The template of each row: its row hash modulo the number of its task's templates.
        counts = np.asarray([len(self.candidates[task]) for task, _ in prompt_list], dtype=np.uint64)
        hashes = row_hashes(record_hashes[record_of_row], self.suffix_hashes[suffix_of_row])
        choice = (hashes % counts[prompt_of_row]).astype(np.int64) if n else prompt_of_row
        pairs, pair_of_row = np.unique(prompt_of_row * MAX_TEMPLATES + choice, return_inverse=True)
        texts, template_ids = [], []
        for pair in pairs.tolist():
            prompt, choice = divmod(pair, MAX_TEMPLATES)
            template = self.candidates[prompt_list[prompt][0]][choice]
            texts.append(self._instruction(keys[prompt], template))
            template_ids.append(template["id"])
        pair_of_row = pa.array(pair_of_row.reshape(-1), pa.int64())
        prompt_of_row = pa.array(prompt_of_row, pa.int64())
        return self._rows_table(
            table,
            record_of_row,
            suffix_of_row,
            task=pa.array([task for task, _ in prompt_list], pa.string()).take(prompt_of_row),
            instruction=pa.array(texts, pa.string()).take(pair_of_row),
            output=pa.array(outputs, pa.binary()).cast(pa.string()),  # checks the UTF-8
            template_id=pa.array(template_ids, pa.string()).take(pair_of_row),
            schema=pa.array([names for _, names in prompt_list], pa.list_(pa.string())).take(prompt_of_row),
        )

    def _rows_table(self, table: pa.Table, record_of_row: np.ndarray, suffix_of_row: np.ndarray, **columns: pa.Array) -> pa.Table:
        """Instruction rows from their own columns (task, instruction, output, template_id,
        schema) and, per row, its record in ``table`` and its id suffix (an index into
        ``self.suffixes``); ``input`` is filled in by ``_render``."""
        count = len(record_of_row)
        take = pa.array(record_of_row, pa.int64())
        record_id = table.column("id").take(take)
        return instruct_table(
            {
                "id": pc.binary_join_element_wise(record_id, pa.array(list(self.suffixes), pa.string()).take(pa.array(suffix_of_row)), "#"),
                "record_id": record_id,
                "corpus": table.column("corpus").take(take),
                "split": pa.repeat(pa.scalar(self.split, pa.string()), count),
                "input": pa.nulls(count, pa.string()),
                "params": params_column(self.params, count),
                **columns,
            }
        )


PARAMS_TYPE = INSTRUCT_SCHEMA.field("params").type
_PARAMS_COLUMNS: dict = {}  # params (as sorted items) -> a struct column of them, sliced per table


def params_column(params: dict, count: int) -> pa.Array:
    """``count`` copies of the ``params`` struct: a zero-copy slice of one column built once (and
    doubled when a table needs more), as repeating a struct scalar per table costs ~10x a string's."""
    key = tuple(sorted(params.items()))
    column = _PARAMS_COLUMNS.get(key)
    if column is None or len(column) < count:
        size = max(count, 2 * len(column) if column is not None else 1 << 14)
        column = _PARAMS_COLUMNS[key] = pa.repeat(pa.scalar(params, PARAMS_TYPE), size)
    return column.slice(0, count)


def instruct_table(columns: dict) -> pa.Table:
    """A table of the instruct schema from its columns (by name)."""
    arrays = [columns[name] for name in INSTRUCT_COLUMNS]
    return pa.Table.from_arrays([c if isinstance(c, pa.ChunkedArray) else pa.chunked_array([c]) for c in arrays], schema=INSTRUCT_SCHEMA)
